"""Identity pools through boto3's `cognito-identity` client (the calls mobile SDKs make), the
classic flow into AssumeRoleWithWebIdentity, and Sekisho as an OIDC issuer trusted by a second
Sekisho (GetWebIdentityToken), with key rotation. Login tokens come from the local issuer of
test_web_identity.py (PyJWT + cryptography, independent of Sekisho)."""
import json
import subprocess
import time
import urllib.request

import boto3
import botocore
import botocore.config
import botocore.exceptions
import jwt
import pytest

from conftest import ADMIN, ALICE, Sekisho, backends, binary
from test_web_identity import ACCT, LOCAL, Issuer

CLIENT = "app-client"
OIDC = f"[oidc]\n{LOCAL}\nrefetch_interval_seconds = 1\n"
P = "cognito-identity.amazonaws.com"


@pytest.fixture(params=backends())
def pserver(request, tmp_path):
    s = Sekisho(tmp_path, backend=request.param, extra_config=OIDC).start()
    yield s
    s.kill()


@pytest.fixture
def issuer():
    i = Issuer(path="idp")
    yield i
    i.close()


def unsigned(server, service="cognito-identity"):
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1",
                        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                                      retries={"max_attempts": 1}))


def err(excinfo):
    return excinfo.value.response["Error"]["Code"]


def pool_trust(pool_id, amr):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": P},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{P}:aud": pool_id},
                      "ForAnyValue:StringLike": {f"{P}:amr": amr}}}]})


def make_role(iam, name, trust):
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="gci", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}))
    return arn


def whoami(server, creds):
    c = creds
    return server.sts((c["AccessKeyId"], c["SecretKey"]), c["SessionToken"]) \
        .get_caller_identity()["Arn"]


def setup_pool(server, issuer):
    iam = server.client("iam", ADMIN)
    ci = server.client("cognito-identity", ADMIN)
    provider = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[CLIENT])[
        "OpenIDConnectProviderArn"]
    pool = ci.create_identity_pool(IdentityPoolName="mobile app", AllowUnauthenticatedIdentities=True,
                                   AllowClassicFlow=True, OpenIdConnectProviderARNs=[provider],
                                   IdentityPoolTags={"team": "mobile"})
    pid = pool["IdentityPoolId"]
    roles = {
        "guest": make_role(iam, "guest", pool_trust(pid, "unauthenticated")),
        "user": make_role(iam, "user", pool_trust(pid, "authenticated")),
        "admin": make_role(iam, "pooladmin", pool_trust(pid, "authenticated")),
    }
    ci.set_identity_pool_roles(
        IdentityPoolId=pid,
        Roles={"unauthenticated": roles["guest"], "authenticated": roles["user"]},
        RoleMappings={issuer.name: {
            "Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
            "RulesConfiguration": {"Rules": [{"Claim": "groups", "MatchType": "Contains",
                                              "Value": "admins", "RoleARN": roles["admin"]}]}}})
    return ci, pid, provider, roles


def test_admin_api_and_both_flows(pserver, issuer):
    server = pserver
    ci, pid, provider, roles = setup_pool(server, issuer)
    assert pid.startswith("us-east-1:")
    d = ci.describe_identity_pool(IdentityPoolId=pid)
    assert d["IdentityPoolName"] == "mobile app"
    assert d["AllowUnauthenticatedIdentities"] and d["AllowClassicFlow"]
    assert d["OpenIdConnectProviderARNs"] == [provider]
    assert d["IdentityPoolTags"] == {"team": "mobile"}
    listed = ci.list_identity_pools(MaxResults=10)["IdentityPools"]
    assert {"IdentityPoolId": pid, "IdentityPoolName": "mobile app"} in listed
    got = ci.get_identity_pool_roles(IdentityPoolId=pid)
    assert got["Roles"]["authenticated"] == roles["user"]
    rule = got["RoleMappings"][issuer.name]["RulesConfiguration"]["Rules"][0]
    assert rule["RoleARN"] == roles["admin"] and rule["MatchType"] == "Contains"

    app = unsigned(server)
    # Guest: enhanced flow.
    guest = app.get_id(IdentityPoolId=pid)["IdentityId"]
    assert guest.startswith("us-east-1:") and guest != pid
    out = app.get_credentials_for_identity(IdentityId=guest)
    assert out["IdentityId"] == guest
    assert out["Credentials"]["Expiration"].timestamp() > time.time() + 3000
    assert whoami(server, out["Credentials"]) == \
        f"arn:aws:sts::{ACCT}:assumed-role/guest/CognitoIdentityCredentials"

    # Authenticated: the same login gets the same identity, and the mapped role.
    token = issuer.token(aud=CLIENT, sub="user-1")
    logins = {issuer.name: token}
    ident = app.get_id(IdentityPoolId=pid, Logins=logins)["IdentityId"]
    assert ident == app.get_id(IdentityPoolId=pid, Logins={issuer.name: issuer.token(
        aud=CLIENT, sub="user-1")})["IdentityId"]
    assert ident != app.get_id(IdentityPoolId=pid, Logins={issuer.name: issuer.token(
        aud=CLIENT, sub="user-2")})["IdentityId"]
    creds = app.get_credentials_for_identity(IdentityId=ident, Logins=logins)["Credentials"]
    assert whoami(server, creds).endswith(":assumed-role/user/CognitoIdentityCredentials")
    admin_token = issuer.token(aud=CLIENT, sub="boss", groups=["staff", "admins"])
    boss = app.get_id(IdentityPoolId=pid, Logins={issuer.name: admin_token})["IdentityId"]
    creds = app.get_credentials_for_identity(IdentityId=boss, Logins={issuer.name: admin_token})[
        "Credentials"]
    assert whoami(server, creds).endswith(":assumed-role/pooladmin/CognitoIdentityCredentials")

    # Classic flow: GetOpenIdToken, then AssumeRoleWithWebIdentity with Sekisho's own token.
    oid = app.get_open_id_token(IdentityId=ident, Logins=logins)
    assert oid["IdentityId"] == ident
    claims = jwt.decode(oid["Token"], options={"verify_signature": False})
    assert claims["aud"] == pid and claims["sub"] == ident
    assert claims["amr"] == ["authenticated", issuer.name]
    assert claims["iss"] == server.endpoint
    sts = unsigned(server, "sts")
    arw = sts.assume_role_with_web_identity(RoleArn=roles["user"], RoleSessionName="classic",
                                            WebIdentityToken=oid["Token"])
    assert arw["SubjectFromWebIdentityToken"] == ident
    assert whoami(server, {"AccessKeyId": arw["Credentials"]["AccessKeyId"],
                           "SecretKey": arw["Credentials"]["SecretAccessKey"],
                           "SessionToken": arw["Credentials"]["SessionToken"]}) \
        == f"arn:aws:sts::{ACCT}:assumed-role/user/classic"
    # A guest's classic token does not pass the authenticated role's amr condition.
    gtok = app.get_open_id_token(IdentityId=guest)["Token"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=roles["user"], RoleSessionName="gg",
                                          WebIdentityToken=gtok)
    assert err(e) == "AccessDenied"

    # Update replaces the settings; delete removes the pool.
    up = ci.update_identity_pool(IdentityPoolId=pid, IdentityPoolName="renamed",
                                 AllowUnauthenticatedIdentities=False,
                                 OpenIdConnectProviderARNs=[provider])
    assert up["IdentityPoolName"] == "renamed" and not up["AllowClassicFlow"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.get_credentials_for_identity(IdentityId=guest)
    assert err(e) == "NotAuthorizedException"
    ci.delete_identity_pool(IdentityPoolId=pid)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ci.describe_identity_pool(IdentityPoolId=pid)
    assert err(e) == "ResourceNotFoundException"

    # No login token in the audit.
    time.sleep(0.3)
    text = "\n".join(server.audit_lines())
    assert token not in text and admin_token not in text and oid["Token"] not in text
    assert "cognito-identity.amazonaws.com" in text


def test_refusals(pserver, issuer):
    server = pserver
    ci, pid, provider, roles = setup_pool(server, issuer)
    app = unsigned(server)
    closed = ci.create_identity_pool(IdentityPoolName="closed",
                                     AllowUnauthenticatedIdentities=False)["IdentityPoolId"]

    def code(f, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            f(**kw)
        return err(e)

    token = issuer.token(aud=CLIENT, sub="user-1")
    # Guests when the pool does not allow them.
    assert code(app.get_id, IdentityPoolId=closed) == "NotAuthorizedException"
    # A provider the pool does not list.
    assert code(app.get_id, IdentityPoolId=closed, Logins={issuer.name: token}) \
        == "NotAuthorizedException"
    # A token for another client of the provider, a bad signature, an expired token.
    assert code(app.get_id, IdentityPoolId=pid,
                Logins={issuer.name: issuer.token(aud="other-app")}) == "NotAuthorizedException"
    assert code(app.get_id, IdentityPoolId=pid,
                Logins={issuer.name: token[:-4] + "AAAA"}) == "NotAuthorizedException"
    assert code(app.get_id, IdentityPoolId=pid,
                Logins={issuer.name: issuer.token(aud=CLIENT, exp=int(time.time()) - 3600)}) \
        == "NotAuthorizedException"
    # Another login than the identity's; no login for an authenticated identity.
    ident = app.get_id(IdentityPoolId=pid, Logins={issuer.name: token})["IdentityId"]
    other = issuer.token(aud=CLIENT, sub="user-2")
    assert code(app.get_credentials_for_identity, IdentityId=ident,
                Logins={issuer.name: other}) == "NotAuthorizedException"
    assert code(app.get_credentials_for_identity, IdentityId=ident) == "NotAuthorizedException"
    assert code(app.get_credentials_for_identity,
                IdentityId="us-east-1:00000000-0000-0000-0000-000000000000") \
        == "ResourceNotFoundException"
    assert code(app.get_id, IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000") \
        == "ResourceNotFoundException"
    assert code(app.get_id, IdentityPoolId="not a pool id") == "InvalidParameterException"
    # A classic token of one pool against a role trusting another pool's aud.
    other_pool = ci.create_identity_pool(IdentityPoolName="other", AllowUnauthenticatedIdentities=True,
                                         AllowClassicFlow=True)["IdentityPoolId"]
    stranger = app.get_id(IdentityPoolId=other_pool)["IdentityId"]
    tok = app.get_open_id_token(IdentityId=stranger)["Token"]
    assert code(unsigned(server, "sts").assume_role_with_web_identity, RoleArn=roles["guest"],
                RoleSessionName="xx", WebIdentityToken=tok) == "AccessDenied"
    # The other pool has no roles: its guests get no credentials.
    assert code(app.get_credentials_for_identity, IdentityId=stranger) \
        == "InvalidIdentityPoolConfigurationException"
    # A role whose trust names the pool principal without an aud condition is refused.
    iam = server.client("iam", ADMIN)
    loose = make_role(iam, "loose", json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": P},
        "Action": "sts:AssumeRoleWithWebIdentity"}]}))
    ci.set_identity_pool_roles(IdentityPoolId=other_pool, Roles={"unauthenticated": loose})
    assert code(app.get_credentials_for_identity, IdentityId=stranger) \
        == "InvalidIdentityPoolConfigurationException"
    # Admin calls need a signature and a policy that allows them.
    assert code(unsigned(server).describe_identity_pool, IdentityPoolId=pid) \
        == "MissingAuthenticationTokenException"
    assert code(server.client("cognito-identity", ALICE).describe_identity_pool,
                IdentityPoolId=pid) == "NotAuthorizedException"
    assert code(ci.set_identity_pool_roles, IdentityPoolId=pid,
                Roles={"authenticated": "arn:aws:iam::111111111111:role/nope"}) \
        == "InvalidParameterException"
    # Classic flow off: no OpenID token.
    ci.update_identity_pool(IdentityPoolId=pid, IdentityPoolName="x",
                            AllowUnauthenticatedIdentities=True, AllowClassicFlow=False)
    g = app.get_id(IdentityPoolId=pid)["IdentityId"]
    assert code(app.get_open_id_token, IdentityId=g) == "InvalidParameterException"


def jwks_kids(server):
    with urllib.request.urlopen(server.endpoint + "/.well-known/jwks.json", timeout=5) as r:
        return {k["kid"] for k in json.load(r)["keys"]}


def test_second_sekisho_trusts_the_first_and_rotation(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Sekisho(tmp_path / "a").start()
    b = Sekisho(tmp_path / "b", extra_config=OIDC).start()
    try:
        with urllib.request.urlopen(a.endpoint + "/.well-known/openid-configuration",
                                    timeout=5) as r:
            disc = json.load(r)
        assert disc["issuer"] == a.endpoint
        assert disc["jwks_uri"] == a.endpoint + "/.well-known/jwks.json"
        assert len(jwks_kids(a)) == 2

        iam_b = b.client("iam", ADMIN)
        prov = iam_b.create_open_id_connect_provider(Url=a.endpoint, ClientIDList=["sekisho-b"])[
            "OpenIDConnectProviderArn"]
        name = a.endpoint[len("http://"):]
        admin_arn = f"arn:aws:iam::{ACCT}:user/admin"
        role = make_role(iam_b, "from-a", json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": prov},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{name}:aud": "sekisho-b", f"{name}:sub": admin_arn}}}]}))
        sts_a = a.sts(ADMIN)
        sts_b = unsigned(b, "sts")

        def exchange(tok):
            out = sts_b.assume_role_with_web_identity(RoleArn=role, RoleSessionName="from-a",
                                                      WebIdentityToken=tok)
            return out["SubjectFromWebIdentityToken"]

        tokens = {}
        for alg in ("RS256", "ES384"):
            out = sts_a.get_web_identity_token(Audience=["sekisho-b"], SigningAlgorithm=alg,
                                               DurationSeconds=120, Tags=[{"Key": "k", "Value": "v"}])
            tok = out["WebIdentityToken"]
            head = jwt.get_unverified_header(tok)
            assert head["alg"] == alg
            claims = jwt.decode(tok, options={"verify_signature": False})
            assert claims["sub"] == admin_arn and claims["aud"] == "sekisho-b"
            assert claims["https://sts.amazonaws.com/"]["request_tags"] == {"k": "v"}
            assert claims["exp"] - claims["iat"] == 120
            assert exchange(tok) == admin_arn
            tokens[alg] = tok
        # A token for another audience is refused by B.
        other = sts_a.get_web_identity_token(Audience=["someone-else"], SigningAlgorithm="RS256")[
            "WebIdentityToken"]
        with pytest.raises(botocore.exceptions.ClientError) as e:
            exchange(other)
        assert err(e) == "InvalidIdentityToken"
        # A's own ARWWI does not take its GetWebIdentityToken tokens (as AWS).
        with pytest.raises(botocore.exceptions.ClientError) as e:
            unsigned(a, "sts").assume_role_with_web_identity(
                RoleArn=f"arn:aws:iam::{ACCT}:role/none", RoleSessionName="xx",
                WebIdentityToken=tokens["RS256"])
        assert err(e) in ("InvalidIdentityToken", "AccessDenied")
        # Out-of-range parameters.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts_a.get_web_identity_token(Audience=["x"], SigningAlgorithm="HS256")
        assert err(e) == "ValidationError"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts_a.get_web_identity_token(Audience=["x"], SigningAlgorithm="RS256",
                                         DurationSeconds=7200)
        assert err(e) == "ValidationError"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            a.sts(ALICE).get_web_identity_token(Audience=["x"], SigningAlgorithm="RS256")
        assert err(e) == "AccessDenied"

        # Rotation: new keys sign, old keys stay published, B takes both.
        before = jwks_kids(a)
        out = subprocess.run([binary(), "keys", "rotate-issuer", "--config",
                              str(a.dir / "sekisho.toml")], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        deadline = time.time() + 15
        while len(jwks_kids(a)) != 4 and time.time() < deadline:
            time.sleep(0.3)
        after = jwks_kids(a)
        assert before < after and len(after) == 4
        new = sts_a.get_web_identity_token(Audience=["sekisho-b"], SigningAlgorithm="ES384")[
            "WebIdentityToken"]
        assert jwt.get_unverified_header(new)["kid"] not in before
        time.sleep(1.1)  # B's refetch interval for an unknown kid
        assert exchange(new) == admin_arn
        assert exchange(tokens["ES384"]) == admin_arn, "tokens of the retired key still verify"
    finally:
        a.kill()
        b.kill()


def test_bootstrap_declares_a_pool_once(pserver):
    ci = pserver.client("cognito-identity", ADMIN)

    def declared():
        pools = ci.list_identity_pools(MaxResults=60)["IdentityPools"]
        return [p["IdentityPoolId"] for p in pools if p["IdentityPoolName"] == "declared"]

    first = declared()
    assert len(first) == 1
    d = ci.describe_identity_pool(IdentityPoolId=first[0])
    assert d["AllowUnauthenticatedIdentities"] and d["IdentityPoolTags"] == {"from": "bootstrap"}
    guest = unsigned(pserver).get_id(IdentityPoolId=first[0])["IdentityId"]
    pserver.restart()
    ci = pserver.client("cognito-identity", ADMIN)
    assert declared() == first, "re-applied, not re-created"
    # The identity survived the restart (stored durably).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unsigned(pserver).get_credentials_for_identity(IdentityId=guest)
    assert err(e) == "InvalidIdentityPoolConfigurationException", "found, but the pool has no role"
