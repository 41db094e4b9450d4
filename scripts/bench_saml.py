"""AssumeRoleWithSAML as an external client sees it, against the floor server, in one run.

The method of ../shared/bench/run.sh (whose floor, venv and wrk helpers it reuses): wrk drives a
separate `sekisho serve` (embedded store, audit to a file) and the fixed-body floor server in
alternating slices. One response, whose assertion is signed by signxml with a 2048-bit RSA key
(the compat suite's test IdP, tests/compat/test_saml.py), is replayed: `[saml]
allow_assertion_reuse = true` for the run, so every request does the whole verification
(shape checks, xmlsec signature verification and reduction, conditions, trust policy, mint).

Run from the project root after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/pip install -q signxml lxml cryptography boto3 pytest
    /tmp/sekisho-bench-venv/bin/python scripts/bench_saml.py [--pin]
Last line: "saml sekisho/floor: R".
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "tests", "compat"))
import bench  # noqa: E402  (the shared harness: servers, wrk)
from bench_verify import compare, wrk_path  # noqa: E402
from test_saml import Key, metadata, response  # noqa: E402  (the test IdP)

ACCOUNT = "111111111111"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/BenchIdP"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/saml"


def provider_config(key):
    """(IAM bootstrap lines for the bench account: the provider, with its metadata inline, and a
    role it may assume; configuration lines allowing the response to be replayed)."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]})
    iam = (f'[[accounts.saml_providers]]\nname = "BenchIdP"\nmetadata = """{metadata([key])}"""\n'
           f"[[accounts.roles]]\nname = \"saml\"\ntrust_policy = '{trust}'\n")
    return iam, "\n[saml]\nallow_assertion_reuse = true\n"


def start_sekisho(key, pinned):
    work = tempfile.mkdtemp(prefix="sekisho-bench-saml-")
    port = bench.free_port()
    iam, cfg = provider_config(key)
    with open(os.path.join(work, "iam.toml"), "w") as f:
        f.write(f'\n[[accounts]]\nid = "{ACCOUNT}"\n' + iam)
    with open(os.path.join(work, "sekisho.toml"), "w") as f:
        f.write(bench.CONFIG.format(port=port) + cfg)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(PROJECT, "target")),
                          "release", "sekisho")
    proc = subprocess.Popen(bench.pin(0, pinned) + [binary, "serve", "--config", "sekisho.toml"],
                            cwd=work, stdout=open(os.path.join(work, "server.log"), "wb"),
                            stderr=subprocess.STDOUT)
    bench.wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def request_body(key):
    """The form body of an AssumeRoleWithSAML with a response signed by `key`."""
    xml = response(ROLE, PROVIDER, key)
    return urllib.parse.urlencode({
        "Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": ROLE,
        "PrincipalArn": PROVIDER, "SAMLAssertion": base64.b64encode(xml.encode()).decode()})


def lua(key):
    body = request_body(key)
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write('wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"\n')
    f.close()
    return f.name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--floor", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "sekisho-bench-floor", "release", "floor"))
    ap.add_argument("--seconds", type=int, default=8, help="seconds per side, in slices")
    ap.add_argument("--slices", type=int, default=4)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--pin", action="store_true")
    a = ap.parse_args()
    key = Key("rsa")
    floor, furl = bench.start_floor(a.floor, a.pin)
    sek, surl = start_sekisho(key, a.pin)
    try:
        script = lua(key)
        warm = wrk_path(surl + "/", script, 1, a)
        if warm[3]:
            sys.exit(f"sekisho answered {warm[3]} non-2xx responses: fix that first")
        compare("saml", furl + "/", surl + "/", script, a)
    finally:
        for p in (floor, sek):
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
