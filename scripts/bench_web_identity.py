"""AssumeRoleWithWebIdentity as an external client sees it, against the floor server, in one run.

The method of ../shared/bench/run.sh (whose floor, venv and wrk helpers it reuses): wrk drives a
separate `sekisho serve` (embedded store, audit to a file) and the fixed-body floor server in
alternating slices. A local OpenID issuer (discovery + JWKS over HTTP on 127.0.0.1, allowed by
`[oidc] insecure_http_prefixes`) publishes the key; one token signed with PyJWT is replayed (web
identity tokens are reusable until they expire, as with AWS). The JWKS is fetched once, on the
first request; the run then measures verification with the key cached.

Run from the project root after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/pip install -q pyjwt cryptography
    /tmp/sekisho-bench-venv/bin/python scripts/bench_web_identity.py [--alg RS256|ES256] [--pin]
Last line: "web-identity <alg> sekisho/floor: R".
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared harness: servers, wrk)
from bench_verify import arguments, run_unsigned, serve  # noqa: E402

ACCOUNT = "111111111111"
AUDIENCE = "bench-client"


def issuer(alg):
    """A local issuer: (url, signing key, kid). Serves discovery and the JWKS in a thread."""
    key = rsa.generate_private_key(65537, 2048) if alg == "RS256" else ec.generate_private_key(
        ec.SECP256R1())
    kid = "bench-1"
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    jwk.update(kid=kid, alg=alg, use="sig")
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = {"/.well-known/openid-configuration": {"issuer": url,
                                                          "jwks_uri": url + "/jwks"},
                    "/jwks": {"keys": [jwk]}}.get(self.path)
            data = json.dumps(body).encode()
            self.send_response(200 if body else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return url, key, kid


def provider_config(url):
    """(IAM bootstrap lines for the bench account: the provider and a role it may assume,
    configuration lines allowing the local http issuer)."""
    host = url.split("://", 1)[1]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:aud": AUDIENCE}}}]})
    iam = f"""
[[accounts.oidc_providers]]
url = "{url}"
client_ids = ["{AUDIENCE}"]
[[accounts.roles]]
name = "web"
trust_policy = '{trust}'
"""
    return iam, '\n[oidc]\ninsecure_http_prefixes = ["http://127.0.0.1:"]\n'


def start_sekisho(url, pinned):
    return serve(ACCOUNT, *provider_config(url), pinned, "sekisho-bench-wi-")


def request_body(alg, key, kid, url):
    """The form body of an AssumeRoleWithWebIdentity with a fresh token signed by `key`."""
    now = int(time.time())
    token = jwt.encode({"iss": url, "aud": AUDIENCE, "sub": "bench-user", "iat": now,
                        "exp": now + 3600}, key, algorithm=alg, headers={"kid": kid})
    return urllib.parse.urlencode({
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/web", "RoleSessionName": "bench",
        "WebIdentityToken": token})


def main():
    a = arguments(lambda ap: ap.add_argument("--alg", default="RS256", choices=["RS256", "ES256"]))
    iss, key, kid = issuer(a.alg)
    # The first request fetches the JWKS (in the warm-up); the run measures the cached key.
    run_unsigned(f"web-identity {a.alg}", a, start_sekisho(iss, a.pin),
                 request_body(a.alg, key, kid, iss))

if __name__ == "__main__":
    main()
