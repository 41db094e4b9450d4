"""AWS evaluation rules as boto3 sees them through the simulator and STS (issue 17)."""
import json

import urllib.error
import urllib.parse
import urllib.request

from conftest import ADMIN

ACCOUNT = "111111111111"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_GET_BUCKET = doc({"Effect": "Allow", "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::bucket/*"})


def decisions(resp):
    return [r["EvalDecision"] for r in resp["EvaluationResults"]]


def test_resource_owner_of_the_callers_account_keeps_allows(server):
    iam = server.client("iam", ADMIN)
    r = iam.simulate_custom_policy(
        PolicyInputList=[ALLOW_GET_BUCKET], ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::bucket/key"],
        ResourceOwner=f"arn:aws:iam::{ACCOUNT}:root",
        CallerArn=f"arn:aws:iam::{ACCOUNT}:user/admin")
    assert decisions(r) == ["allowed"]
    # Another account owning the resource, with no resource policy: cross-account, denied.
    r = iam.simulate_custom_policy(
        PolicyInputList=[ALLOW_GET_BUCKET], ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::bucket/key"],
        ResourceOwner="arn:aws:iam::222222222222:root",
        CallerArn=f"arn:aws:iam::{ACCOUNT}:user/admin")
    assert decisions(r) == ["implicitDeny"]


def test_an_empty_policy_list_with_a_hypothetical_resource_policy(server):
    iam = server.client("iam", ADMIN)
    # The principal need not exist: the resource policy is a hypothetical document.
    resource_policy = doc({"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody-by-this-name"},
        "Action": "s3:GetObject", "Resource": "*"})
    r = iam.simulate_custom_policy(
        PolicyInputList=[], ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::bucket/key"], ResourcePolicy=resource_policy,
        ResourceOwner=f"arn:aws:iam::{ACCOUNT}:root",
        CallerArn=f"arn:aws:iam::{ACCOUNT}:user/nobody-by-this-name")
    assert decisions(r) == ["allowed"]


def test_the_default_resource_star_is_allowed_by_any_resource_pattern(server):
    iam = server.client("iam", ADMIN)
    r = iam.simulate_custom_policy(PolicyInputList=[ALLOW_GET_BUCKET],
                                   ActionNames=["s3:GetObject", "s3:PutObject"])
    assert decisions(r) == ["allowed", "implicitDeny"]
    assert r["EvaluationResults"][0]["EvalResourceName"] == "*"


def test_get_caller_identity_is_always_allowed(server):
    iam = server.client("iam", ADMIN)
    deny_all = doc({"Effect": "Deny", "Action": "*", "Resource": "*"})
    r = iam.simulate_custom_policy(PolicyInputList=[deny_all],
                                   ActionNames=["sts:GetCallerIdentity", "s3:GetObject"])
    assert decisions(r) == ["allowed", "explicitDeny"]
    # And the action itself, for a user whose policies deny everything.
    iam.create_user(UserName="denied")
    iam.put_user_policy(UserName="denied", PolicyName="deny", PolicyDocument=deny_all)
    k = iam.create_access_key(UserName="denied")["AccessKey"]
    me = server.sts((k["AccessKeyId"], k["SecretAccessKey"])).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/denied"


def test_get_access_key_info_answers_the_owner_of_a_held_key(server):
    iam = server.client("iam", ADMIN)
    # An imported key whose id does not encode its account (the bootstrap's admin key).
    info = server.sts(ADMIN).get_access_key_info(AccessKeyId=ADMIN[0])
    assert info["Account"] == ACCOUNT
    # The ops key of account 333333333333 was imported with an id that encodes another
    # account: the holder's answer is the owner's account, not the decoded one.
    ops = server.sts(ADMIN).get_access_key_info(AccessKeyId="AKIAZ7QKOPSOPSOPSOPS")
    assert ops["Account"] == "333333333333"
    # A key id Sekisho does not hold is decoded.
    prod = server.sts(ADMIN).get_access_key_info(AccessKeyId="AKIATHPL2AOHOXRILAV5")
    assert prod["Account"] == "222222222222"


def unsigned_post(server, **params):
    body = urllib.parse.urlencode(params).encode()
    try:
        with urllib.request.urlopen(server.endpoint + "/", data=body, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_an_unknown_action_is_invalid_action_even_unsigned(server):
    for version in ("2011-06-15", "2010-05-08"):
        status, text = unsigned_post(server, Action="NoSuchThing", Version=version)
        assert status == 400, text
        assert "<Code>InvalidAction</Code>" in text
    # A known action, unsigned, still needs authentication.
    status, text = unsigned_post(server, Action="GetCallerIdentity", Version="2011-06-15")
    assert status == 403 and "MissingAuthenticationToken" in text
