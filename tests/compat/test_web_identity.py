"""AssumeRoleWithWebIdentity through boto3 and boto3's web-identity credential provider, with
tokens minted by PyJWT + cryptography (an implementation independent of Sekisho's) and a local
OIDC issuer (discovery + JWKS over HTTP on 127.0.0.1)."""
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from conftest import ADMIN

ACCT = "111111111111"
AUD = "sts.amazonaws.com"
SUB = "repo:org/repo:ref:refs/heads/main"
LOCAL = 'insecure_http_prefixes = ["http://127.0.0.1:"]'


class Issuer:
    """A tiny OIDC issuer: /<path>/.well-known/openid-configuration and /<path>/jwks."""

    def __init__(self, path="py"):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.jwks_hits = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == f"/{path}/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == f"/{path}/jwks":
                    issuer.jwks_hits += 1
                    body = {"keys": issuer.jwks()}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def jwks(self):
        r = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        r.update(kid="py-rsa", alg="RS256", use="sig")
        e = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        e.update(kid="py-ec", use="sig")
        return [r, e]

    @property
    def name(self):
        return self.url[len("http://"):]

    def token(self, alg="RS256", **overrides):
        now = int(time.time())
        claims = {"iss": self.url, "aud": AUD, "sub": SUB, "iat": now - 5, "exp": now + 600}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        key, kid = (self.rsa, "py-rsa") if alg == "RS256" else (self.ec, "py-ec")
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def issuer():
    i = Issuer()
    yield i
    i.close()


def setup(server, issuer, role="gha"):
    iam = server.client("iam", ADMIN)
    arn = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[AUD])[
        "OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCT}:oidc-provider/{issuer.name}"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer.name}:aud": AUD},
                      "StringLike": {f"{issuer.name}:sub": "repo:org/repo:ref:refs/heads/*"}}}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}))
    return role_arn


def unsigned_sts(server):
    return server.sts(("AKIAUNUSEDUNUSEDUNUS", "unused"))


def err(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_boto3_assume_role_with_web_identity_rs256_and_es256(make_server, issuer):
    server = make_server(extra_config=f"[oidc]\n{LOCAL}\n")
    role_arn = setup(server, issuer)
    for alg in ("RS256", "ES256"):
        out = unsigned_sts(server).assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="ci", WebIdentityToken=issuer.token(alg))
        assert out["SubjectFromWebIdentityToken"] == SUB
        assert out["Provider"] == issuer.url
        assert out["Audience"] == AUD
        assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/gha/ci"
        c = out["Credentials"]
        me = server.sts((c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"]).get_caller_identity()
        assert me["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert issuer.jwks_hits == 1
    time.sleep(0.3)
    ok = [json.loads(l) for l in server.audit_lines() if '"AssumeRoleWithWebIdentity"' in l]
    ui = ok[-1]["userIdentity"]
    assert ui["type"] == "WebIdentityUser"
    assert ui["userName"] == SUB and ui["identityProvider"] == issuer.name
    assert ui["principalId"] == f"{issuer.name}:{AUD}:{SUB}"
    # The audit says why a refusal happened, never the token.
    bad = issuer.token(aud="someone-else")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unsigned_sts(server).assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="ci", WebIdentityToken=bad)
    assert err(e) == "InvalidIdentityToken"
    time.sleep(0.3)
    lines = [json.loads(l) for l in server.audit_lines()]
    refused = [l for l in lines if l.get("errorCode") == "InvalidIdentityToken"][-1]
    assert "audience" in refused["additionalEventData"]["reason"]
    assert bad not in "\n".join(server.audit_lines())
    assert refused["requestParameters"]["webIdentityToken"] != bad


def test_refusals_through_boto3(make_server, issuer):
    server = make_server(extra_config=f"[oidc]\n{LOCAL}\n")
    role_arn = setup(server, issuer)
    now = int(time.time())
    sts = unsigned_sts(server)

    def code(token):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.assume_role_with_web_identity(
                RoleArn=role_arn, RoleSessionName="ci", WebIdentityToken=token)
        return err(e)

    assert code(issuer.token(exp=now - 3600)) == "ExpiredTokenException"
    assert code(issuer.token(sub=None)) == "InvalidIdentityToken"
    assert code(issuer.token(sub="repo:evil/repo:ref:refs/heads/main")) == "AccessDenied"
    none = jwt.encode({"iss": issuer.url, "aud": AUD, "sub": SUB, "iat": now, "exp": now + 60},
                      None, algorithm="none", headers={"kid": "py-rsa"})
    assert code(none) == "InvalidIdentityToken"
    pem = issuer.rsa.public_key().public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).PublicFormat.SubjectPublicKeyInfo)
    # HS256 keyed with the RSA public key: PyJWT refuses to do this itself, so sign by hand.
    import base64, hashlib, hmac
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "kid": "py-rsa"}).encode())
    body = b64(json.dumps({"iss": issuer.url, "aud": AUD, "sub": SUB, "iat": now, "exp": now + 60}).encode())
    sig = b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    assert code(f"{head}.{body}.{sig}") == "InvalidIdentityToken"


# The file as Kubernetes projects it, and as `echo "$TOKEN" > file` writes it (the SDKs send the
# file's text as it is, final newline included).
@pytest.mark.parametrize("ending", ["", "\n"], ids=["projected", "newline"])
def test_boto3_web_identity_credential_provider(make_server, issuer, tmp_path, ending):
    server = make_server(extra_config=f"[oidc]\n{LOCAL}\n")
    role_arn = setup(server, issuer)
    token_file = tmp_path / "token"
    # A Kubernetes-style projected token shape, with the GitHub-style subject the trust takes.
    token_file.write_text(issuer.token(**{"kubernetes.io": {"namespace": "ci"}}) + ending)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ROLE_ARN": role_arn,
        "AWS_ROLE_SESSION_NAME": "from-file",
        "AWS_ENDPOINT_URL_STS": server.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    code = ("import boto3,json;"
            "print(json.dumps(boto3.client('sts').get_caller_identity()['Arn']))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == f"arn:aws:sts::{ACCT}:assumed-role/gha/from-file"
