"""Virtual MFA end to end with boto3, pyotp (an authenticator app's codes) and the aws CLI:
devices, enabling with two codes, MFA sessions, the "require MFA" role pattern across accounts,
single-use codes, the window edges with a shifted server clock, resync, and the aws-vault flow."""
import base64
import json
import time

import botocore.exceptions
import pyotp
import pytest

from conftest import ADMIN, PROD_ADMIN, temp_creds
from test_sts import aws_cli

DEV = "111111111111"
PROD = "222222222222"
INVALID = "MultiFactorAuthentication failed with invalid MFA one time pass code."
MFA_ROLE = f"arn:aws:iam::{PROD}:role/prod-mfa"
REQUIRE_MFA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                      "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    }],
})
ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def later_step(server, t):
    """A fresh server time in a later step than `t`'s (every code up to `t`'s next step may
    have been used)."""
    while True:
        now = fresh_step(server)
        if now // 30 > t // 30:
            return now
        time.sleep(1)


def fresh_step(server):
    """The server's time, taken at least 3 s after a step began and 8 s before it ends, so the
    codes computed from it keep their step for the few requests that follow."""
    while True:
        t = time.time() + server.offset
        into = t % 30
        if 3 <= into <= 22:
            return t
        time.sleep(0.5)


class Person:
    """A dev-account user with keys, a virtual MFA device and an authenticator (pyotp)."""

    def __init__(self, server, name, enable=True):
        admin = server.client("iam", ADMIN)
        admin.create_user(UserName=name)
        admin.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Resource": "*",
                           "Action": ["sts:AssumeRole", "iam:ListMFADevices", "iam:GetUser"]}],
        }))
        k = admin.create_access_key(UserName=name)["AccessKey"]
        self.creds = (k["AccessKeyId"], k["SecretAccessKey"])
        self.name = name
        self.server = server
        dev = admin.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
        self.serial = dev["SerialNumber"]
        self.seed = dev["Base32StringSeed"].decode()
        self.png = dev["QRCodePNG"]
        self.totp = pyotp.TOTP(self.seed)
        if enable:
            t = fresh_step(server)
            admin.enable_mfa_device(UserName=name, SerialNumber=self.serial,
                                    AuthenticationCode1=self.at(t, -1),
                                    AuthenticationCode2=self.at(t, 0))
            self.t = t

    def at(self, t, steps):
        return self.totp.at(t + 30 * steps)

    def sts(self, creds=None, token=None):
        return self.server.sts(creds or self.creds, token)


@pytest.fixture
def mfa_role(server):
    prod = server.client("iam", PROD_ADMIN)
    prod.create_role(RoleName="prod-mfa", AssumeRolePolicyDocument=REQUIRE_MFA_TRUST)
    prod.put_role_policy(RoleName="prod-mfa", PolicyName="all", PolicyDocument=ALLOW_ALL)
    return MFA_ROLE


def test_device_lifecycle(server):
    admin = server.client("iam", ADMIN)
    p = Person(server, "carol", enable=False)
    assert p.serial == f"arn:aws:iam::{DEV}:mfa/carol"
    assert len(p.seed) == 32 and base64.b32decode(p.seed)
    assert p.png.startswith(b"\x89PNG\r\n\x1a\n")
    # The seed is never shown again.
    listed = admin.list_virtual_mfa_devices()["VirtualMFADevices"]
    mine = [d for d in listed if d["SerialNumber"] == p.serial]
    assert mine and "Base32StringSeed" not in mine[0] and "QRCodePNG" not in mine[0]
    assert [d["SerialNumber"] for d in
            admin.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]] \
        == [p.serial]
    assert admin.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.create_virtual_mfa_device(VirtualMFADeviceName="CAROL")
    assert err(e)[0] == "EntityAlreadyExists"

    # Enabling takes two consecutive codes; wrong ones are InvalidAuthenticationCode (403).
    t = fresh_step(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.enable_mfa_device(UserName="carol", SerialNumber=p.serial,
                                AuthenticationCode1=p.at(t, -2), AuthenticationCode2=p.at(t, 0))
    assert err(e)[0] == "InvalidAuthenticationCode"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    admin.enable_mfa_device(UserName="carol", SerialNumber=p.serial,
                            AuthenticationCode1=p.at(t, -1), AuthenticationCode2=p.at(t, 0))
    devices = admin.list_mfa_devices(UserName="carol")["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("carol", p.serial)]
    got = admin.get_mfa_device(SerialNumber=p.serial, UserName="carol")
    assert got["SerialNumber"] == p.serial and got["UserName"] == "carol"
    assigned = admin.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert assigned[0]["User"]["UserName"] == "carol"
    # The user lists its own devices (no UserName: the caller).
    assert server.client("iam", p.creds).list_mfa_devices()["MFADevices"][0]["SerialNumber"] \
        == p.serial
    summary = admin.get_account_summary()["SummaryMap"]
    assert summary["MFADevices"] == 1 and summary["MFADevicesInUse"] == 1
    assert summary["AccountMFAEnabled"] == 0

    # Tags.
    admin.tag_mfa_device(SerialNumber=p.serial, Tags=[{"Key": "team", "Value": "a"}])
    assert admin.list_mfa_device_tags(SerialNumber=p.serial)["Tags"] == [
        {"Key": "team", "Value": "a"}]
    admin.untag_mfa_device(SerialNumber=p.serial, TagKeys=["team"])
    assert admin.list_mfa_device_tags(SerialNumber=p.serial)["Tags"] == []

    # A user with a device cannot be deleted; an assigned device cannot be deleted.
    for k in admin.list_access_keys(UserName="carol")["AccessKeyMetadata"]:
        admin.delete_access_key(UserName="carol", AccessKeyId=k["AccessKeyId"])
    admin.delete_user_policy(UserName="carol", PolicyName="self")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.delete_user(UserName="carol")
    assert err(e)[0] == "DeleteConflict"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.delete_virtual_mfa_device(SerialNumber=p.serial)
    assert err(e)[0] == "DeleteConflict"
    admin.deactivate_mfa_device(UserName="carol", SerialNumber=p.serial)
    assert admin.list_mfa_devices(UserName="carol")["MFADevices"] == []
    admin.delete_virtual_mfa_device(SerialNumber=p.serial)
    admin.delete_user(UserName="carol")
    summary = admin.get_account_summary()["SummaryMap"]
    assert summary["MFADevices"] == 0 and summary["MFADevicesInUse"] == 0
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.get_mfa_device(SerialNumber=p.serial)
    assert err(e)[0] == "NoSuchEntity"


def test_mfa_session_and_the_require_mfa_role_across_accounts(server, mfa_role):
    p = Person(server, "dana")
    t = p.t
    # GetSessionToken with the next code: an MFA session.
    c, tok = temp_creds(p.sts().get_session_token(SerialNumber=p.serial,
                                                  TokenCode=p.at(t, 1)))
    # The same code twice: refused, with AWS's message.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t, 1))
    assert err(e) == ("AccessDenied", INVALID)
    # An earlier code (the one enabling used): refused too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t, 0))
    assert err(e) == ("AccessDenied", INVALID)

    # The MFA session assumes the MFA-protected role in the other account.
    r = p.sts(c, tok).assume_role(RoleArn=mfa_role, RoleSessionName="with-mfa")
    rc, rt = temp_creds(r)
    assert server.sts(rc, rt).get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{PROD}:assumed-role/prod-mfa/with-mfa"
    # MFA sessions may call IAM; sessions without MFA may not (InvalidClientTokenId, as AWS).
    assert server.client("iam", c, tok).list_mfa_devices()["MFADevices"]
    c2, tok2 = temp_creds(p.sts().get_session_token())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("iam", c2, tok2).list_mfa_devices()
    assert err(e)[0] == "InvalidClientTokenId"

    # Without MFA the role refuses: long-term keys, and a session without MFA.
    for creds, token in [(p.creds, None), (c2, tok2)]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            p.sts(creds, token).assume_role(RoleArn=mfa_role, RoleSessionName="no-mfa")
        assert err(e)[0] == "AccessDenied"


def test_malformed_codes_and_foreign_serials(server):
    p = Person(server, "erin")
    q = Person(server, "frank")
    t = p.t
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode="12345a")
    assert err(e)[0] == "ValidationError"
    assert "12345a" not in err(e)[1]
    # Another user's device: AWS's "unable to validate" answer, even with its right code.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=q.serial, TokenCode=q.at(t, 1))
    assert err(e)[0] == "AccessDenied"
    assert "unable to validate MFA code" in err(e)[1]
    # A device that does not exist, and a hardware serial.
    for serial in [f"arn:aws:iam::{DEV}:mfa/nobody", "GAHT12345678"]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            p.sts().get_session_token(SerialNumber=serial, TokenCode="123456")
        assert "unable to validate MFA code" in err(e)[1]
    # The audit trail never holds a code or the seed.
    audit = "\n".join(server.audit_lines())
    assert p.seed not in audit and q.seed not in audit
    assert q.at(t, 1) not in audit


def test_window_edges_with_a_shifted_clock(make_server):
    # The server runs 10 minutes ahead of this machine (inside SigV4's 15-minute skew): the
    # authenticator must use the server's time.
    s = make_server(offset=600)
    p = Person(s, "gina")
    t = p.t
    stale = p.totp.at(time.time())  # this machine's time: 20 steps behind the server
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode=stale)
    assert err(e) == ("AccessDenied", INVALID)
    # Two steps ahead is outside the window; one step ahead is inside.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t, 2))
    assert err(e) == ("AccessDenied", INVALID)
    p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t, 1))
    # Restart 150 s later on the server's clock: the step before now is still inside the window,
    # two before is not (and neither was used).
    s.restart(offset=600 + 150)
    t2 = fresh_step(s)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t2, -2))
    assert err(e) == ("AccessDenied", INVALID)
    p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t2, -1))


def test_resync_learns_a_fast_device(make_server):
    s = make_server()
    p = Person(s, "hank")
    admin = s.client("iam", ADMIN)
    t = fresh_step(s)
    fast = 8  # the device's clock runs four minutes early
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t, fast))
    assert err(e) == ("AccessDenied", INVALID)
    admin.resync_mfa_device(UserName="hank", SerialNumber=p.serial,
                            AuthenticationCode1=p.at(t, fast), AuthenticationCode2=p.at(t, fast + 1))
    # The same pair again: refused (codes are single-use there too).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.resync_mfa_device(UserName="hank", SerialNumber=p.serial,
                                AuthenticationCode1=p.at(t, fast),
                                AuthenticationCode2=p.at(t, fast + 1))
    assert err(e)[0] == "InvalidAuthenticationCode"
    # The device's next code is inside the window now.
    p.sts().get_session_token(SerialNumber=p.serial, TokenCode=p.at(t, fast + 2))


def test_aws_vault_flow(server, mfa_role):
    """aws-vault / granted: GetSessionToken with MFA, cache the session, AssumeRole with it
    (role chaining: at most one hour), again and again without a new code."""
    p = Person(server, "ivan")
    c, tok = temp_creds(p.sts().get_session_token(SerialNumber=p.serial,
                                                  TokenCode=p.at(p.t, 1),
                                                  DurationSeconds=43200))
    for i in range(3):
        r = p.sts(c, tok).assume_role(RoleArn=mfa_role, RoleSessionName=f"vault-{i}",
                                      DurationSeconds=3600)
        assert r["AssumedRoleUser"]["Arn"].endswith(f"/vault-{i}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        p.sts(c, tok).assume_role(RoleArn=mfa_role, RoleSessionName="long", DurationSeconds=7200)
    assert err(e)[0] == "ValidationError"
    # AssumeRole straight from long-term keys with a code (aws-vault's --no-session); the next
    # step's code, since this step's went to GetSessionToken.
    t = later_step(server, p.t)
    r = p.sts().assume_role(RoleArn=mfa_role, RoleSessionName="direct", SerialNumber=p.serial,
                            TokenCode=p.at(t, 1))
    assert r["AssumedRoleUser"]["Arn"].endswith("/direct")


def test_aws_cli_enables_a_device(server, tmp_path):
    png = tmp_path / "qr.png"
    r = aws_cli(server, ADMIN, "iam", "create-virtual-mfa-device",
                "--virtual-mfa-device-name", "cli-dev", "--outfile", str(png),
                "--bootstrap-method", "Base32StringSeed")
    assert r.returncode == 0, r.stderr
    seed = png.read_text().strip()
    serial = json.loads(r.stdout)["VirtualMFADevice"]["SerialNumber"]
    totp = pyotp.TOTP(seed)
    t = fresh_step(server)
    r = aws_cli(server, ADMIN, "iam", "enable-mfa-device", "--user-name", "admin",
                "--serial-number", serial, "--authentication-code1", totp.at(t - 30),
                "--authentication-code2", totp.at(t))
    assert r.returncode == 0, r.stderr
    r = aws_cli(server, ADMIN, "sts", "get-session-token", "--serial-number", serial,
                "--token-code", totp.at(t + 30))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Credentials"]["AccessKeyId"].startswith("ASIA")
