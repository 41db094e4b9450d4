"""Security review regressions (issue 15), as clients see them: boto3, the aws CLI's
credentials and the `sekisho revoke` command against a real server process."""
import json
import os
import stat
import subprocess
import time
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

from conftest import ADMIN, ALICE, DEPLOYER, PROD_ADMIN, binary, temp_creds

ROOT3 = ("AKIAZ7QKROOTROOTROOT", "rootSecretKeyrootSecretKeyrootSecretKey0")
OPS = ("AKIAZ7QKOPSOPSOPSOPS", "opsSecretKeyopsSecretKeyopsSecretKeyops0")


def err(e):
    return e.value.response["Error"]["Code"]


def revoke(server, who, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=who[0], AWS_SECRET_ACCESS_KEY=who[1])
    env.pop("AWS_SESSION_TOKEN", None)
    return subprocess.run([binary(), "revoke", *args, "--endpoint-url", server.endpoint],
                          env=env, capture_output=True, text=True)


def deployer(server, name):
    return temp_creds(server.sts(ALICE).assume_role(
        RoleArn=DEPLOYER, RoleSessionName=name, ExternalId="ext-123"))


def test_tenants_cannot_revoke_other_accounts_and_only_operators_lower(make_server):
    s = make_server()
    creds, token = deployer(s, "victim")
    victim = s.sts(creds, token)
    victim.get_caller_identity()
    time.sleep(1.1)  # cut-offs have one-second resolution
    for who, args in [
        (ADMIN, ["--all"]),
        (ADMIN, ["--all", "--before", "2099-01-01T00:00:00Z"]),
        (ADMIN, ["--account", "222222222222"]),
        (ADMIN, ["--role", DEPLOYER]),
        (ADMIN, ["--access-key", creds[0]]),
        (PROD_ADMIN, ["--all"]),  # an administrator, but not an operator
        (ROOT3, ["--all"]),  # an account root is not an operator either
        (PROD_ADMIN, ["--role", DEPLOYER, "--lower", "--before", "none"]),
    ]:
        r = revoke(s, who, *args)
        assert r.returncode != 0, (who[0], args, r.stdout)
        assert victim.get_caller_identity()["Arn"].endswith("/victim"), (who[0], args)
    r = revoke(s, OPS, "--all")
    assert r.returncode == 0, r.stderr
    with pytest.raises(botocore.exceptions.ClientError) as e:
        victim.get_caller_identity()
    assert err(e) == "ExpiredToken"
    r = revoke(s, OPS, "--all", "--lower", "--before", "none")
    assert r.returncode == 0, r.stderr
    assert victim.get_caller_identity()["Arn"].endswith("/victim")
    time.sleep(0.3)
    lowered = [json.loads(l) for l in s.audit_lines() if '"RevokeSessions"' in l]
    assert any((e.get("responseElements") or {}).get("lowered") and
               e["userIdentity"]["arn"] == "arn:aws:iam::333333333333:user/ops" for e in lowered)


def test_a_future_cutoff_is_a_validation_error(server):
    r = revoke(server, PROD_ADMIN, "--account", "222222222222", "--before", "2099-01-01T00:00:00Z")
    assert r.returncode != 0
    assert "ValidationError" in r.stdout + r.stderr


def test_the_root_user_cannot_assume_a_role(server):
    iam = server.client("iam", ROOT3)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
        "Action": "sts:AssumeRole"}]})
    arn = iam.create_role(RoleName="target", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.sts(ROOT3).assume_role(RoleArn=arn, RoleSessionName="root")
    assert err(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"] == "Roles may not be assumed by root accounts."


def test_a_session_does_not_outlive_its_role(server):
    creds, token = deployer(server, "old")
    old = server.sts(creds, token)
    old.get_caller_identity()
    iam = server.client("iam", PROD_ADMIN)
    doc = iam.get_role(RoleName="deployer")["Role"]["AssumeRolePolicyDocument"]
    iam.delete_role_policy(RoleName="deployer", PolicyName="work")
    iam.delete_role(RoleName="deployer")
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(doc)
                    if not isinstance(doc, str) else doc)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        old.get_caller_identity()
    assert err(e) == "InvalidClientTokenId"
    # New sessions of the new role work.
    creds, token = deployer(server, "new")
    assert server.sts(creds, token).get_caller_identity()["Arn"].endswith("/new")


def test_session_policy_arns_of_another_account_are_refused(server):
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    foreign = server.client("iam", ADMIN).create_policy(
        PolicyName="devonly", PolicyDocument=doc)["Policy"]["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.sts(ALICE).assume_role(RoleArn=DEPLOYER, RoleSessionName="pa", ExternalId="ext-123",
                                      PolicyArns=[{"arn": foreign}])
    assert err(e) == "ValidationError"
    own = server.client("iam", PROD_ADMIN).create_policy(
        PolicyName="prodonly", PolicyDocument=doc)["Policy"]["Arn"]
    server.sts(ALICE).assume_role(RoleArn=DEPLOYER, RoleSessionName="pa", ExternalId="ext-123",
                                  PolicyArns=[{"arn": own}])


def ready(server):
    try:
        return urllib.request.urlopen(server.endpoint + "/readyz", timeout=2).status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_deleted_key_ring_is_not_replaced(make_server):
    s = make_server()
    creds, token = temp_creds(s.sts(ADMIN).get_session_token(DurationSeconds=900))
    ring = s.dir / "keyring.json"
    saved = ring.read_bytes()
    ring.unlink()
    deadline = time.time() + 10
    while ready(s) != 503 and time.time() < deadline:
        time.sleep(0.2)
    assert ready(s) == 503, "a missing key ring makes the node not ready"
    assert not ring.exists(), "the watcher must not create a new ring"
    # The ring in memory still opens the sessions it issued.
    assert s.sts(creds, token).get_caller_identity()["Arn"].endswith("user/admin")
    ring.write_bytes(saved)
    deadline = time.time() + 10
    while ready(s) != 200 and time.time() < deadline:
        time.sleep(0.2)
    assert ready(s) == 200
    assert "key ring file cannot be read" in (s.dir / "server.log").read_text()


def test_generated_secrets_stay_off_the_console(server):
    path = server.dir / "generated-keys.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    owner, key_id, secret = path.read_text().split()
    assert owner == "arn:aws:iam::333333333333:user/gen"
    log = (server.dir / "server.log").read_text()
    assert key_id in log and secret not in log
    who = server.sts((key_id, secret)).get_caller_identity()
    assert who["Arn"] == owner
