"""STS through boto3 and the aws CLI, against a real Sekisho process."""
import json
import os
import subprocess
import sys
import urllib.request

import botocore.exceptions
import pytest

from conftest import ADMIN, ALICE, AUDITOR, DEPLOYER, PROD_ADMIN, binary, temp_creds


def err(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_get_caller_identity(server):
    me = server.sts(ADMIN).get_caller_identity()
    assert me["Arn"] == "arn:aws:iam::111111111111:user/admin"
    assert me["Account"] == "111111111111"
    assert me["UserId"].startswith("AIDA")


def test_session_token_round_trip_and_refusals(server):
    resp = server.sts(ADMIN).get_session_token(DurationSeconds=900)
    creds, token = temp_creds(resp)
    assert creds[0].startswith("ASIA")
    me = server.sts(creds, token).get_caller_identity()
    assert me["Arn"] == "arn:aws:iam::111111111111:user/admin"
    # A tampered token is refused.
    bad = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.sts(creds, bad).get_caller_identity()
    assert err(e) == "InvalidClientTokenId"
    # A wrong secret is refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.sts((creds[0], "x" * 40), token).get_caller_identity()
    assert err(e) == "SignatureDoesNotMatch"


def test_expired_credentials_are_refused(make_server):
    # Mint on a server whose clock runs 850 s behind; use them on one 60 s ahead: both within
    # the 15-minute SigV4 window, but the 900 s session has expired.
    s = make_server(offset=-850)
    creds, token = temp_creds(s.sts(ADMIN).get_session_token(DurationSeconds=900))
    s.sts(creds, token).get_caller_identity()
    s.restart(offset=60)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s.sts(creds, token).get_caller_identity()
    assert err(e) == "ExpiredToken"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_assume_role_cross_account(server):
    alice = server.sts(ALICE)
    resp = alice.assume_role(RoleArn=DEPLOYER, RoleSessionName="ci", ExternalId="ext-123",
                             Tags=[{"Key": "team", "Value": "a"}], TransitiveTagKeys=["team"])
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::222222222222:assumed-role/deployer/ci"
    assert resp["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert resp["PackedPolicySize"] > 0
    creds, token = temp_creds(resp)
    me = server.sts(creds, token).get_caller_identity()
    assert me["Account"] == "222222222222"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        alice.assume_role(RoleArn=DEPLOYER, RoleSessionName="ci", ExternalId="nope")
    assert err(e) == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole" in e.value.response["Error"]["Message"]
    # Chaining is capped at one hour.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.sts(creds, token).assume_role(RoleArn=AUDITOR, RoleSessionName="c2", DurationSeconds=7200)
    assert err(e) == "ValidationError"
    chained = server.sts(creds, token).assume_role(RoleArn=AUDITOR, RoleSessionName="c2")
    assert chained["AssumedRoleUser"]["Arn"].endswith("assumed-role/auditor/c2")


def test_error_envelope_for_bad_requests(server):
    # Unsigned call of a signed action.
    req = urllib.request.Request(server.endpoint + "/?Action=GetCallerIdentity&Version=2011-06-15")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    body = e.value.read().decode()
    assert e.value.code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in body
    assert "<Type>Sender</Type>" in body
    assert e.value.headers["x-amzn-RequestId"] in body
    # Unknown version.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.endpoint + "/?Action=AssumeRole&Version=2011-06-16")
    assert e.value.code == 400
    assert "Could not find operation AssumeRole for version 2011-06-16" in e.value.read().decode()
    # Oversized body.
    big = b"Action=GetCallerIdentity&Version=2011-06-15&X=" + b"a" * 300_000
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(server.endpoint + "/", data=big))
    assert e.value.code == 413


def test_presigned_get_caller_identity_json(server):
    """The EKS/aws-iam-authenticator pattern: a presigned GET answered in JSON."""
    sts = server.sts(ADMIN)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    body = json.loads(urllib.request.urlopen(req).read())
    result = body["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
    assert result["Arn"] == "arn:aws:iam::111111111111:user/admin"
    # Tampering with the URL breaks it.
    bad = url.replace("Version=2011-06-15", "Version=2011-06-15&X=1")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(bad, headers={"Accept": "application/json"}))
    assert e.value.code in (400, 403)


def aws_cli(server, creds, *args, token=None):
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": creds[0],
        "AWS_SECRET_ACCESS_KEY": creds[1],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    })
    env.pop("AWS_SESSION_TOKEN", None)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    return subprocess.run([aws, "--endpoint-url", server.endpoint, "--output", "json", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_aws_cli(server):
    r = aws_cli(server, ADMIN, "sts", "get-caller-identity")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"] == "arn:aws:iam::111111111111:user/admin"
    r = aws_cli(server, ALICE, "sts", "assume-role", "--role-arn", DEPLOYER,
                "--role-session-name", "cli", "--external-id", "ext-123")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["Credentials"]
    r = aws_cli(server, (c["AccessKeyId"], c["SecretAccessKey"]), "sts", "get-caller-identity",
                token=c["SessionToken"])
    assert json.loads(r.stdout)["Arn"] == "arn:aws:sts::222222222222:assumed-role/deployer/cli"
    r = aws_cli(server, ALICE, "sts", "assume-role", "--role-arn", DEPLOYER, "--role-session-name", "cli")
    assert r.returncode != 0 and "AccessDenied" in r.stderr


def test_revoke_cli_survives_kill(make_server):
    s = make_server()
    creds, token = temp_creds(s.sts(ALICE).assume_role(
        RoleArn=DEPLOYER, RoleSessionName="old", ExternalId="ext-123"))
    s.sts(creds, token).get_caller_identity()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=PROD_ADMIN[0], AWS_SECRET_ACCESS_KEY=PROD_ADMIN[1])
    r = subprocess.run([binary(), "revoke", "--role", DEPLOYER, "--before", "now",
                        "--endpoint-url", s.endpoint], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s.sts(creds, token).get_caller_identity()
    assert err(e) == "ExpiredToken"
    # The CLI names itself in the audit, as the AWS tools do.
    revokes = [e for e in map(json.loads, s.audit_lines()) if e["eventName"] == "RevokeSessions"]
    assert revokes and revokes[-1]["userAgent"].startswith("sekisho-cli/"), revokes
    s.restart()  # SIGKILL, then start again on the same files
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s.sts(creds, token).get_caller_identity()
    assert err(e) == "ExpiredToken", "the revocation survived the crash"
    import time
    time.sleep(1.1)  # cut-offs have one-second resolution
    new, tok = temp_creds(s.sts(ALICE).assume_role(
        RoleArn=DEPLOYER, RoleSessionName="new", ExternalId="ext-123"))
    assert s.sts(new, tok).get_caller_identity()["Arn"].endswith("/new")


def test_audit_events_hide_secrets(server):
    resp = server.sts(ADMIN).get_session_token(DurationSeconds=900)
    creds, token = temp_creds(resp)
    server.sts(creds, token).get_caller_identity()
    with pytest.raises(botocore.exceptions.ClientError):
        server.sts(ALICE).assume_role(RoleArn=DEPLOYER, RoleSessionName="x1", ExternalId="no")
    import time
    time.sleep(0.3)
    text = "\n".join(server.audit_lines())
    assert creds[1] not in text and token not in text and ADMIN[1] not in text
    events = [json.loads(l) for l in server.audit_lines()]
    names = [e["eventName"] for e in events]
    assert "GetSessionToken" in names and "AssumeRole" in names
    denied = [e for e in events if e.get("errorCode") == "AccessDenied"]
    assert denied and denied[-1]["userIdentity"]["arn"] == "arn:aws:iam::111111111111:user/alice"
    for e in events:
        for k in ("eventVersion", "eventTime", "eventSource", "eventName", "awsRegion",
                  "sourceIPAddress", "userAgent", "requestID", "eventID", "readOnly"):
            assert k in e


def test_key_rotation_keeps_old_sessions(make_server):
    s = make_server()
    creds, token = temp_creds(s.sts(ADMIN).get_session_token(DurationSeconds=900))
    r = subprocess.run([binary(), "keys", "rotate", "--config", str(s.dir / "sekisho.toml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import time
    ring = json.loads((s.dir / "keyring.json").read_text())
    assert len(json.dumps(ring)) > 0
    time.sleep(3)  # servers re-read the ring file within two seconds
    assert s.sts(creds, token).get_caller_identity()["Arn"].endswith("user/admin")
    new, tok = temp_creds(s.sts(ADMIN).get_session_token(DurationSeconds=900))
    assert s.sts(new, tok).get_caller_identity()["Arn"].endswith("user/admin")
    # The new token was sealed with a different key than the old one.
    assert token[:12] != tok[:12] or token.split(".")[0] != tok.split(".")[0]


def test_check_config(tmp_path):
    good = subprocess.run([binary(), "check-config", "config/demo.toml"], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nlisten_address = "x"\n')
    r = subprocess.run([binary(), "check-config", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0 and "listen_address" in r.stderr
