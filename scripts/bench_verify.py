"""`POST /verify` as an external client sees it, against the floor server, in one run.

The same method as ../shared/bench/run.sh (whose helpers it reuses): wrk drives a separate
`sekisho serve` (embedded store, audit to a file) and the fixed-body floor server in alternating
slices, with one signed request replayed (valid 15 minutes). The request is a resource server's
question: an S3 GET signed with temporary credentials (an AssumeRole session), described in the
`/verify` JSON body, the outer request SigV4-signed by the bench administrator. The floor gets the
same bytes on `/`.

Run from the project root, after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/python scripts/bench_verify.py [--seconds 8] [--slices 4] [--pin]
Last line: "verify sekisho/floor: R".
"""
import argparse
import atexit
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
import bench  # noqa: E402  (the shared harness: servers, wrk, the bench identity)


# Where ../shared/bench/run.sh builds the floor server (its `${TMPDIR:-/tmp}`): every bench
# script's default `--floor`.
FLOOR = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sekisho-bench-floor", "release", "floor")


def is_run_dir(path):
    """Whether `path` is a directory a bench Sekisho ran in (`sekisho-bench-…` in the temporary
    folder), not the floor's build or the bench venv that live beside them."""
    name = os.path.basename(path or "")
    return (bool(path) and os.path.dirname(path) == tempfile.gettempdir()
            and name.startswith("sekisho-bench-")
            and name not in ("sekisho-bench-floor", "sekisho-bench-venv"))


def stop(proc):
    """Stops a server these scripts started, and removes the temporary directory a Sekisho ran
    in (`sekisho-bench-…` from bench.start_sekisho or `serve`): its audit file grows by about a
    gigabyte per AssumeRole run, and a few runs fill a small disk."""
    try:
        cwd = os.readlink(f"/proc/{proc.pid}/cwd")
    except OSError:
        cwd = None
    proc.terminate()
    proc.wait(timeout=10)
    if is_run_dir(cwd):
        shutil.rmtree(cwd, ignore_errors=True)


def session_credentials(url):
    """An AssumeRole session of the bench role, asked of Sekisho with boto's STS client."""
    sts = botocore.session.get_session().create_client(
        "sts", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=bench.KEY[0], aws_secret_access_key=bench.KEY[1])
    c = sts.assume_role(RoleArn=bench.ROLE, RoleSessionName="verify-bench")["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def question(creds):
    """The /verify body: an S3 GET of bucket/key.txt signed with `creds`."""
    s3 = AWSRequest(method="GET", url="https://bucket.s3.local/key.txt", data=b"")
    SigV4Auth(creds, "s3", "us-east-1").add_auth(s3)
    headers = [["host", "bucket.s3.local"]] + [
        [k.lower(), v] for k, v in s3.headers.items() if k.lower() != "host"]
    return json.dumps({
        "request": {"method": "GET", "path": "/key.txt", "query": "", "headers": headers,
                    "payload_hash": hashlib.sha256(b"").hexdigest(), "scheme": "https"},
        "service": "s3", "action": "s3:GetObject", "resource": "arn:aws:s3:::bucket/key.txt",
    })


def discard_at_exit(path):
    """`path` (a wrk script these scripts wrote in the temporary folder), removed when the
    script exits, so that a series of runs leaves no scripts behind."""
    atexit.register(lambda: os.path.exists(path) and os.remove(path))
    return path


def signed_lua(url, body):
    """A wrk script replaying POST /verify with `body`, signed by the bench administrator."""
    req = AWSRequest(method="POST", url=url + "/verify", data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(*bench.KEY), "sts", "us-east-1").add_auth(req)
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in req.headers.items()
              if k.lower() not in ("host", "content-length")]
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write("\n".join(lines) + "\n")
    f.close()
    return discard_at_exit(f.name)


def main():
    a = arguments()
    floor, furl = bench.start_floor(a.floor, a.pin)
    sek, surl = bench.start_sekisho(PROJECT, a.pin)
    try:
        body = question(session_credentials(surl))
        lua = signed_lua(surl, body)
        compare("verify", furl + "/", surl + "/verify", lua, a)
    finally:
        for p in (floor, sek):
            stop(p)


def compare(label, floor_url, sekisho_url, lua, a):
    """Drives the floor and Sekisho with `lua` in alternating slices; prints req/s, latencies and
    the ratio of the totals (the last line: "<label> sekisho/floor: R")."""
    tot = {"floor": [0, []], "sekisho": [0, []]}
    per = max(1, a.seconds // a.slices)
    for _ in range(a.slices):
        for name, url in (("floor", floor_url), ("sekisho", sekisho_url)):
            n, p50, p99 = wrk_checked(name, url, lua, per, a)
            tot[name][0] += n
            tot[name][1].append(f"{p50}/{p99}")
    secs = per * a.slices
    for name in ("floor", "sekisho"):
        print(f"{label:18} {name:8} {tot[name][0] / secs:>10,.0f} req/s  p50/p99 per slice: "
              f"{' '.join(tot[name][1])}")
    print(f"{label} sekisho/floor: {tot['sekisho'][0] / tot['floor'][0]:.2f}")


def wrk_path(url, lua, seconds, a):
    """bench.wrk appends "/" to the server URL; /verify needs its own path."""
    threads = "-t1" if a.pin else "-t2"
    out = subprocess.run(bench.pin(1, a.pin) + ["wrk", threads, f"-c{a.connections}",
                                                 f"-d{seconds}s", "--latency", "-s", lua, url],
                         capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return n, lat.get("50", "?"), lat.get("99", "?"), int(bad.group(1)) if bad else 0


def wrk_checked(name, url, lua, seconds, a):
    """`wrk_path` without the count of bad answers: the script stops if `name` (the server at
    `url`) gave any, since its rate would then not be the rate of the request measured."""
    n, p50, p99, bad = wrk_path(url, lua, seconds, a)
    if bad:
        sys.exit(f"{name} answered {bad} non-2xx responses: fix that first")
    return n, p50, p99


def arguments(extra=None):
    """The command line every bench script takes (`extra(parser)` adds its own options)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--floor", default=FLOOR)
    ap.add_argument("--seconds", type=int, default=8, help="seconds per side, in slices")
    ap.add_argument("--slices", type=int, default=4)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--pin", action="store_true")
    if extra:
        extra(ap)
    return ap.parse_args()


def serve(account, iam, cfg, pinned, prefix):
    """A separate `sekisho serve` (bench.CONFIG plus `cfg`) whose bootstrap declares `account`
    with the lines `iam`; returns (process, URL)."""
    work = tempfile.mkdtemp(prefix=prefix)
    port = bench.free_port()
    with open(os.path.join(work, "iam.toml"), "w") as f:
        f.write(f'\n[[accounts]]\nid = "{account}"\n' + iam)
    with open(os.path.join(work, "sekisho.toml"), "w") as f:
        f.write(bench.CONFIG.format(port=port) + cfg)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(PROJECT, "target")),
                          "release", "sekisho")
    proc = subprocess.Popen(bench.pin(0, pinned) + [binary, "serve", "--config", "sekisho.toml"],
                            cwd=work, stdout=open(os.path.join(work, "server.log"), "wb"),
                            stderr=subprocess.STDOUT)
    bench.wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def form_lua(body):
    """A wrk script replaying an unsigned form POST of `body`."""
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write('wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"\n')
    f.close()
    return discard_at_exit(f.name)


def run_unsigned(label, a, sekisho, body):
    """Starts the floor, warms `sekisho` (process, URL) with one second of `body` (a federation
    call's first request may fetch keys), then compares the two and stops both."""
    floor, furl = bench.start_floor(a.floor, a.pin)
    proc, surl = sekisho
    try:
        script = form_lua(body)
        wrk_checked("sekisho", surl + "/", script, 1, a)
        compare(label, furl + "/", surl + "/", script, a)
    finally:
        for p in (floor, proc):
            stop(p)


if __name__ == "__main__":
    main()
