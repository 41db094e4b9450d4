"""IAM through boto3 and the aws CLI, against a real Sekisho process."""
import json
import time
import urllib.parse

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import ADMIN, PROD_ADMIN
from test_sts import aws_cli

READER = ("AKIARTXV5AHD2JZREADR", "readerSecretKeyreaderSecretKeyreaderSec0")
ACCT = "111111111111"
S3_READ = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def err(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_lifecycle_user_group_policy_key(server):
    iam = server.client("iam", ADMIN)
    user = iam.create_user(UserName="dave", Path="/eng/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCT}:user/eng/dave"
    assert user["UserId"].startswith("AIDA")
    iam.create_group(GroupName="devs")
    parn = iam.create_policy(PolicyName="read", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="devs", PolicyArn=parn)
    iam.add_user_to_group(GroupName="devs", UserName="dave")
    assert [u["UserName"] for u in iam.get_group(GroupName="devs")["Users"]] == ["dave"]

    key = iam.create_access_key(UserName="dave")["AccessKey"]
    assert key["Status"] == "Active" and len(key["SecretAccessKey"]) == 40
    creds = (key["AccessKeyId"], key["SecretAccessKey"])
    me = server.sts(creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCT}:user/eng/dave"
    # The secret is never readable again.
    listed = iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]
    assert listed[0]["AccessKeyId"] == key["AccessKeyId"] and "SecretAccessKey" not in listed[0]

    iam.update_access_key(UserName="dave", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.sts(creds).get_caller_identity()
    assert err(e) == "InvalidClientTokenId"

    key2 = iam.create_access_key(UserName="dave")["AccessKey"]
    server.sts((key2["AccessKeyId"], key2["SecretAccessKey"])).get_caller_identity()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName="dave")
    assert err(e) == "LimitExceeded"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="dave")
    assert err(e) == "DeleteConflict"
    for k in (key, key2):
        iam.delete_access_key(UserName="dave", AccessKeyId=k["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="dave")
    assert err(e) == "DeleteConflict"
    iam.remove_user_from_group(GroupName="devs", UserName="dave")
    iam.delete_user(UserName="dave")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=parn)
    assert err(e) == "DeleteConflict"
    iam.detach_group_policy(GroupName="devs", PolicyArn=parn)
    iam.delete_policy(PolicyArn=parn)
    iam.delete_group(GroupName="devs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_group(GroupName="devs")
    assert err(e) == "NoSuchEntity"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_roles_documents_and_errors(server):
    iam = server.client("iam", ADMIN)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:user/alice"},
         "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust),
                           MaxSessionDuration=7200, Description="x",
                           Tags=[{"Key": "env", "Value": "dev"}])["Role"]
    assert role["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName="app")["Role"]
    # botocore URL-decodes and parses the document, as it does with AWS.
    assert got["AssumeRolePolicyDocument"] == trust
    assert got["MaxSessionDuration"] == 7200
    assert got["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
    assert err(e) == "EntityAlreadyExists"
    unchecked = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                             aws_access_key_id=ADMIN[0], aws_secret_access_key=ADMIN[1],
                             config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unchecked.update_role(RoleName="app", MaxSessionDuration=60)
    assert err(e) == "ValidationError"
    bad_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(bad_trust))
    assert err(e) == "MalformedPolicyDocument"
    iam.put_role_policy(RoleName="app", PolicyName="p", PolicyDocument=json.dumps(S3_READ))
    assert iam.get_role_policy(RoleName="app", PolicyName="p")["PolicyDocument"] == S3_READ
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_role(RoleName="app")
    assert err(e) == "DeleteConflict"
    iam.delete_role_policy(RoleName="app", PolicyName="p")
    iam.delete_role(RoleName="app")
    # Entities are in the caller's account: prod's admin does not see dev's users.
    prod = server.client("iam", PROD_ADMIN)
    names = [u["UserName"] for u in prod.list_users()["Users"]]
    assert "alice" not in names and "prodadmin" in names


def test_read_only_user(server):
    ro = server.client("iam", READER)
    assert any(u["UserName"] == "alice" for u in ro.list_users()["Users"])
    ro.get_user(UserName="alice")
    for call in (lambda: ro.create_user(UserName="x"),
                 lambda: ro.attach_user_policy(UserName="alice",
                                               PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"),
                 lambda: ro.delete_user(UserName="alice"),
                 lambda: ro.put_user_policy(UserName="reader", PolicyName="x",
                                            PolicyDocument=json.dumps(S3_READ))):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == "AccessDenied"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_pagination_with_boto3_paginator(server):
    iam = server.client("iam", ADMIN)
    for i in range(25):
        iam.create_user(UserName=f"p{i:02d}")
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 7}))
    assert len(pages) >= 4
    names = [u["UserName"] for p in pages for u in p["Users"]]
    assert len(names) == len(set(names))
    assert {f"p{i:02d}" for i in range(25)} <= set(names)


def test_simulate_and_summary(server):
    iam = server.client("iam", ADMIN)
    out = iam.simulate_custom_policy(PolicyInputList=[json.dumps(S3_READ)],
                                     ActionNames=["s3:GetObject", "s3:DeleteObject"])
    decisions = [r["EvalDecision"] for r in out["EvaluationResults"]]
    assert decisions == ["allowed", "implicitDeny"]
    out = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCT}:user/reader",
                                       ActionNames=["iam:ListUsers", "iam:CreateUser"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "implicitDeny"]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == 3 and summary["AccessKeysPerUserQuota"] == 2


def test_aws_cli_iam(server):
    r = aws_cli(server, ADMIN, "iam", "create-user", "--user-name", "cli-user")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["User"]["UserName"] == "cli-user"
    r = aws_cli(server, ADMIN, "iam", "create-access-key", "--user-name", "cli-user")
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout)["AccessKey"]
    r = aws_cli(server, (k["AccessKeyId"], k["SecretAccessKey"]), "sts", "get-caller-identity")
    assert json.loads(r.stdout)["Arn"].endswith(":user/cli-user")
    r = aws_cli(server, ADMIN, "iam", "list-users", "--max-items", "2")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["Users"]) == 2
    r = aws_cli(server, ADMIN, "iam", "delete-user", "--user-name", "cli-user")
    assert r.returncode != 0 and "DeleteConflict" in r.stderr
    r = aws_cli(server, READER, "iam", "create-user", "--user-name", "nope")
    assert r.returncode != 0 and "AccessDenied" in r.stderr


def test_revoke_older_sessions_the_aws_way(server):
    iam = server.client("iam", ADMIN)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:user/admin"},
         "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="rev", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="rev", PolicyName="l", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}))
    arn = f"arn:aws:iam::{ACCT}:role/rev"
    c = server.sts(ADMIN).assume_role(RoleArn=arn, RoleSessionName="old")["Credentials"]
    old = server.client("iam", (c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"])
    old.list_users()
    time.sleep(1.1)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    iam.put_role_policy(RoleName="rev", PolicyName="AWSRevokeOlderSessions", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
         "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}}}]}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        old.list_users()
    assert err(e) == "AccessDenied"
    time.sleep(1.1)
    c = server.sts(ADMIN).assume_role(RoleArn=arn, RoleSessionName="new")["Credentials"]
    server.client("iam", (c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"]).list_users()


TRUST_ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
    "Action": "sts:AssumeRole"}]})


def test_control_characters_are_refused_and_never_break_listings(server):
    iam = server.client("iam", ADMIN)
    iam.create_role(RoleName="fine", AssumeRolePolicyDocument=TRUST_ADMIN,
                    Description="tab\there, Latin-1 é")
    # AWS's classes: role descriptions [\t\n\r\x20-\x7e\xa1-\xff]*, tags [\p{L}\p{Z}\p{N}_.:/=+\-@]*,
    # policy documents [\t\n\r\x20-\xff]+.
    bad = [
        dict(RoleName="bad1", AssumeRolePolicyDocument=TRUST_ADMIN, Description="x\x01y"),
        dict(RoleName="bad2", AssumeRolePolicyDocument=TRUST_ADMIN, Description="x\x7fy"),
        dict(RoleName="bad3", AssumeRolePolicyDocument=TRUST_ADMIN, Description="emoji \U0001F600"),
        dict(RoleName="bad4", AssumeRolePolicyDocument=TRUST_ADMIN,
             Tags=[{"Key": "k", "Value": "a\x0bb"}]),
        dict(RoleName="bad5", AssumeRolePolicyDocument=TRUST_ADMIN.replace("sts:", "\x01sts:")),
    ]
    for kw in bad:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_role(**kw)
        assert err(e) == "ValidationError", kw
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_role_description(RoleName="fine", Description="x\x02")
    assert err(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_role_policy(RoleName="fine", PolicyName="p",
                            PolicyDocument=json.dumps(S3_READ).replace("s3:", "\x1fs3:"))
    assert err(e) == "ValidationError"
    names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert "fine" in names and not any(n.startswith("bad") for n in names)
    # A policy description has no character class at AWS (length only): the writer replaces what
    # XML 1.0 cannot carry, so the account's listings stay readable.
    iam.create_policy(PolicyName="odd", PolicyDocument=json.dumps(S3_READ), Description="x\x01y")
    listed = iam.list_policies(Scope="Local")["Policies"]
    odd = [p for p in listed if p["PolicyName"] == "odd"]
    assert odd and iam.get_policy(PolicyArn=odd[0]["Arn"])["Policy"]["Description"] == "x\ufffdy"
