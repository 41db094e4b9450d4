"""Server cost per request, counted rather than timed: for a noisy (shared) machine.

Starts a separate `sekisho serve` (the configuration of ../shared/bench/run.sh: embedded store,
audit to a file) — or the floor server — and replays one request a fixed number of times over
keep-alive connections, from this process:

- `instructions` (default): the server runs under `valgrind --tool=callgrind`; its counters are
  zeroed after the warm-up and dumped after the measured requests, so the figure is user-space
  instructions per request of the whole server process (every thread: tokio workers, the audit
  writer), start-up excluded. The kernel's share (reads, writes) is not in it: see `--syscalls`.
  Valgrind does not emulate SHA-NI, so SHA-256 runs its portable code there; the second figure
  leaves sha2's block function out (natively, with SHA-NI, it is a few per cent of a request).
- `--syscalls`: the server runs natively; `strace -f -c` is attached after the warm-up, so the
  figure is system calls per request, by name.
- `--cpu`: the server runs natively; the CPU time of all its threads (user and kernel, from
  /proc/PID/task/*/schedstat, in ns) is read before and after the measured requests, so the
  figure is server CPU microseconds per request, SHA-NI and the kernel's share included. It is
  a time, so it moves with the machine's load (less than a throughput ratio does: the client's
  own CPU is not in it); use many requests (`--requests 20000`) and compare within one run.

`SEKISHO_BIN=path` runs another build of `sekisho` (to compare two builds in one run).

Scenarios: gci (GetCallerIdentity), assume (AssumeRole), verify (POST /verify of an S3 GET signed
with session credentials), web-rs256 / web-es256 (AssumeRoleWithWebIdentity, JWKS cached after
the warm-up), saml (AssumeRoleWithSAML, an RSA-2048 signed assertion replayed: xmlsec's work remembered
after the first request), saml-cold (the same with `[saml] verification_memo_entries = 0`: every
request pays xmlsec's work, as a fresh response does), floor (the fixed-body floor server, for comparison).

Run from the project root after ../shared/bench/run.sh has built the floor and the venv (web
scenarios also need `pip install pyjwt cryptography` in it):
    /tmp/sekisho-bench-venv/bin/python scripts/cost.py [--scenarios gci,assume,verify,floor]
        [--requests 2000] [--warmup 300] [--connections 4] [--syscalls | --cpu]
"""
import argparse
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared harness: the bench identity and configuration)
from bench_verify import FLOOR  # noqa: E402

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def binary():
    if os.environ.get("SEKISHO_BIN"):
        return os.environ["SEKISHO_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(PROJECT, "target"))
    return os.path.join(target, "release", "sekisho")


def start(argv, cwd, port, log):
    # The server's folder (store, audit file: hundreds of MB after a long run) goes when we do.
    atexit.register(shutil.rmtree, cwd, True)
    proc = subprocess.Popen(argv, cwd=cwd, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    bench.wait_port(port, proc, secs=300)
    return proc


def start_sekisho(prefix, extra_iam="", extra_cfg=""):
    work = tempfile.mkdtemp(prefix="sekisho-cost-")
    port = bench.free_port()
    with open(os.path.join(work, "iam.toml"), "w") as f:
        f.write(bench.IAM + extra_iam)
    with open(os.path.join(work, "sekisho.toml"), "w") as f:
        f.write(bench.CONFIG.format(port=port) + extra_cfg)
    proc = start(prefix + [binary(), "serve", "--config", "sekisho.toml"], work, port,
                 os.path.join(work, "server.log"))
    return proc, port, work


def start_floor(prefix, floor):
    work = tempfile.mkdtemp(prefix="sekisho-cost-floor-")
    port = bench.free_port()
    proc = start(prefix + [floor, f"127.0.0.1:{port}"], work, port, os.path.join(work, "floor.log"))
    return proc, port, work


def raw(port, path, body, headers):
    """The bytes of one HTTP/1.1 keep-alive POST."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body.encode()


def signed(port, path, body, content_type, key=bench.KEY):
    url = f"http://127.0.0.1:{port}"
    req = AWSRequest(method="POST", url=url + path, data=body, headers={"Content-Type": content_type})
    SigV4Auth(Credentials(*key), "sts", "us-east-1").add_auth(req)
    return raw(port, path, body, dict(req.headers.items()))


def query_body(action):
    if action == "AssumeRole":
        return f"Action=AssumeRole&Version=2011-06-15&RoleArn={bench.ROLE}&RoleSessionName=bench"
    return f"Action={action}&Version=2011-06-15"


def read_response(sock, buf):
    """Reads one response (Content-Length framed) from `sock`; returns (status, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        rest += chunk
    return status, rest[:n], rest[n:]


def drive(port, request, total, connections):
    """Sends `request` `total` times over `connections` keep-alive connections, one in flight on
    each; fails on any non-200 answer."""
    errors = []

    def worker(n):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            for _ in range(n):
                s.sendall(request)
                status, body, buf = read_response(s, buf)
                if status != 200:
                    errors.append(f"{status}: {body[:300]!r}")
                    return
            s.close()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    per = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
    threads = [threading.Thread(target=worker, args=(n,)) for n in per if n]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"request failed: {errors[0]}")


def one_response(port, request):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    status, body, _ = read_response(s, b"")
    s.close()
    return status, body


def scenario(name, prefix, floor):
    """Starts the server for `name`; returns (process, port, request bytes)."""
    if name == "floor":
        proc, port, _ = start_floor(prefix, floor)
        return proc, port, raw(port, "/", query_body("AssumeRole"), {"Content-Type": FORM})
    if name.startswith("web-"):
        import bench_web_identity as wi
        alg = name.split("-", 1)[1].upper()
        iss, key, kid = wi.issuer(alg)
        proc, port, _ = start_sekisho(prefix, *wi.provider_config(iss))
        body = wi.request_body(alg, key, kid, iss)
        return proc, port, raw(port, "/", body, {"Content-Type": FORM})
    if name in ("saml", "saml-cold"):
        import bench_saml as bs
        key = bs.Key("rsa")
        proc, port, _ = start_sekisho(prefix, *bs.provider_config(key, name == "saml-cold"))
        return proc, port, raw(port, "/", bs.request_body(key), {"Content-Type": FORM})
    proc, port, _ = start_sekisho(prefix)
    if name == "verify":
        import bench_verify as bv
        body = bv.question(bv.session_credentials(f"http://127.0.0.1:{port}"))
        return proc, port, signed(port, "/verify", body, "application/json")
    action = {"gci": "GetCallerIdentity", "assume": "AssumeRole"}[name]
    return proc, port, signed(port, "/", query_body(action), FORM)


def instructions(name, a):
    out = tempfile.mktemp(prefix="callgrind-", suffix=".out")
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    proc, port, req = scenario(name, prefix, a.floor)
    try:
        drive(port, req, a.warmup, a.connections)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       capture_output=True)
        drive(port, req, a.requests, a.connections)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True)
        size = len(one_response(port, req)[1])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        # Callgrind's dump at exit holds what ran after the measured dump (`.1`): the last
        # request and the shutdown. Not a figure; removed.
        if os.path.exists(out):
            os.remove(out)
    total = None
    if os.path.exists(out + ".1"):
        with open(out + ".1") as fh:
            m = re.search(r"^(?:totals|summary):\s+(\d+)", fh.read(), re.M)
            total = int(m.group(1)) if m else None
    if total is None:
        sys.exit(f"no callgrind dump in {out}.1")
    per = total / a.requests
    sha = sha256_share(out + ".1") / a.requests
    print(f"{name:10} {per:>10,.0f} instructions/request, {per - sha:>10,.0f} without SHA-256 "
          f"compression  (response body {size} bytes; {a.requests} requests, {a.connections} "
          f"connections; dump {out}.1)")
    return per


def sha256_share(dump):
    """Instructions spent in sha2's block function. Valgrind does not emulate SHA-NI, so sha2
    runs its portable code under callgrind (several times the instructions of the native SHA-NI
    path): the figure without it is the better guide to native cost."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
                          capture_output=True, text=True, check=True).stdout
    best = 0
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*sha256\.rs:sha2::sha256::compress256\b", line)
        if m:
            best = max(best, int(m.group(1).replace(",", "")))
    return best


def syscalls(name, a):
    proc, port, req = scenario(name, [], a.floor)
    log = tempfile.mktemp(prefix="strace-", suffix=".txt")
    try:
        drive(port, req, a.warmup, a.connections)
        st = subprocess.Popen(["strace", "-f", "-c", "-o", log, "-p", str(proc.pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        drive(port, req, a.requests, a.connections)
        time.sleep(0.2)
        st.send_signal(signal.SIGINT)
        st.wait(timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    counts = {}
    try:
        with open(log) as fh:
            for line in fh:
                f = line.split()
                if len(f) >= 5 and f[-1] not in ("syscall", "total") and f[3].isdigit():
                    counts[f[-1]] = int(f[3])
    finally:
        if os.path.exists(log):
            os.remove(log)
    shown = ", ".join(f"{k} {v / a.requests:.2f}" for k, v in
                      sorted(counts.items(), key=lambda kv: -kv[1]) if v / a.requests >= 0.01)
    print(f"{name:10} {sum(counts.values()) / a.requests:6.2f} syscalls/request: {shown}")


def cpu_ns(pid):
    """CPU time (ns) used so far by every thread of `pid`."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between listing and reading
    return total


def cpu(name, a):
    proc, port, req = scenario(name, [], a.floor)
    try:
        drive(port, req, a.warmup, a.connections)
        before = cpu_ns(proc.pid)
        drive(port, req, a.requests, a.connections)
        used = cpu_ns(proc.pid) - before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    print(f"{name:10} {used / a.requests / 1000:8.2f} µs server CPU/request  ({a.requests} "
          f"requests, {a.connections} connections)")
    return used / a.requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default="floor,gci,assume,verify")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--syscalls", action="store_true")
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--floor", default=FLOOR)
    a = ap.parse_args()
    for name in a.scenarios.split(","):
        (syscalls if a.syscalls else cpu if a.cpu else instructions)(name, a)


if __name__ == "__main__":
    main()
