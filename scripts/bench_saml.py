"""AssumeRoleWithSAML as an external client sees it, against the floor server, in one run.

The method of ../shared/bench/run.sh (whose floor, venv and wrk helpers it reuses): wrk drives a
separate `sekisho serve` (embedded store, audit to a file) and the fixed-body floor server in
alternating slices. One response, whose assertion is signed by signxml with a 2048-bit RSA key
(the compat suite's test IdP, tests/compat/test_saml.py), is replayed: `[saml]
allow_assertion_reuse = true` for the run, so every request does the whole verification
(shape checks, conditions, trust policy, mint) — with xmlsec's signature verification and
reduction remembered after the first request (`[saml] verification_memo_entries`), as for any
response replayed as it is. `--cold` turns the memo off (`verification_memo_entries = 0`), so
every request also pays xmlsec's work, as a response seen for the first time does.

Run from the project root after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/pip install -q signxml lxml cryptography boto3 pytest
    /tmp/sekisho-bench-venv/bin/python scripts/bench_saml.py [--cold] [--pin]
Last line: "saml sekisho/floor: R" ("saml-cold …" with --cold).
"""
import base64
import json
import os
import sys
import urllib.parse

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "tests", "compat"))
from bench_verify import arguments, run_unsigned, serve  # noqa: E402
from test_saml import Key, metadata, response  # noqa: E402  (the test IdP)

ACCOUNT = "111111111111"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/BenchIdP"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/saml"


def provider_config(key, cold=False):
    """(IAM bootstrap lines for the bench account: the provider, with its metadata inline, and a
    role it may assume; configuration lines allowing the response to be replayed, and with
    `cold` turning the verification memo off)."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]})
    iam = (f'[[accounts.saml_providers]]\nname = "BenchIdP"\nmetadata = """{metadata([key])}"""\n'
           f"[[accounts.roles]]\nname = \"saml\"\ntrust_policy = '{trust}'\n")
    cfg = "\n[saml]\nallow_assertion_reuse = true\n"
    if cold:
        cfg += "verification_memo_entries = 0\n"
    return iam, cfg


def request_body(key):
    """The form body of an AssumeRoleWithSAML with a response signed by `key`."""
    xml = response(ROLE, PROVIDER, key)
    return urllib.parse.urlencode({
        "Action": "AssumeRoleWithSAML", "Version": "2011-06-15", "RoleArn": ROLE,
        "PrincipalArn": PROVIDER, "SAMLAssertion": base64.b64encode(xml.encode()).decode()})


def main():
    a = arguments(lambda ap: ap.add_argument(
        "--cold", action="store_true",
        help="turn the verification memo off: every request pays xmlsec's work"))
    key = Key("rsa")
    sekisho = serve(ACCOUNT, *provider_config(key, a.cold), a.pin, "sekisho-bench-saml-")
    run_unsigned("saml-cold" if a.cold else "saml", a, sekisho, request_body(key))

if __name__ == "__main__":
    main()
