"""Two (or more) builds of Sekisho against the floor, in one run: which one is faster, as an
external client sees it.

The method of ../shared/bench/run.sh (whose helpers it reuses): each build runs as a separate
`sekisho serve` on the bench configuration, the floor server beside them, and wrk drives the
floor and each build in turn, slice after slice, so the machine's drift hits every side alike.
Prints each side's req/s, its ratio to the floor, and its server's CPU time per request, user and
kernel apart (from /proc/PID/stat, over the measured slices only). The user time is the steadier
figure: it is what a change to Sekisho's code moves, while the kernel's share (the loopback, and
waking and preempting the wrk threads that share the cores) and the req/s swing with the machine.
With `--pin` every server runs on CPU 0 and wrk on CPU 1 (as `run.sh --pin` does): the client
then has a core of its own, and the CPU time per request is the server's whole cost, without the
preemptions a client sharing its cores causes. A build is a path to a `sekisho` binary,
optionally followed by `@TOKIO_WORKER_THREADS=N` to run it with that many workers.

Run from the project root, after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/python scripts/bench_ab.py [--action AssumeRole]
        [--seconds 2] [--slices 5] [--pin] /tmp/sekisho-old target/release/sekisho
"""
import argparse
import os
import shutil
import sys
import tempfile

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
import bench  # noqa: E402  (the shared harness: servers, wrk, the bench identity)
from bench_verify import FLOOR, discard_at_exit, stop  # noqa: E402


def start(build, pinned=False):
    """Starts `build` (a binary path, optionally `@TOKIO_WORKER_THREADS=N`) as bench.py does
    (on CPU 0 alone when `pinned`)."""
    path, _, env = build.partition("@")
    work = tempfile.mkdtemp(prefix="sekisho-ab-")
    os.makedirs(os.path.join(work, "release"))
    shutil.copy(path, os.path.join(work, "release", "sekisho"))
    saved = dict(os.environ)
    os.environ["CARGO_TARGET_DIR"] = work
    if env:
        key, _, value = env.partition("=")
        os.environ[key] = value
    try:
        proc, url = bench.start_sekisho(PROJECT, pinned)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return proc, url, work


def cpu_ticks(pid):
    """(user, kernel) CPU time of process `pid` so far, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--action", default="AssumeRole")
    ap.add_argument("--seconds", type=int, default=2, help="seconds per slice")
    ap.add_argument("--slices", type=int, default=5)
    ap.add_argument("--pin", action="store_true",
                    help="servers on CPU 0, wrk (one thread) on CPU 1, as run.sh --pin does")
    ap.add_argument("--floor", default=FLOOR)
    a = ap.parse_args()
    floor, furl = bench.start_floor(a.floor, a.pin)
    sides = [("floor", floor, furl, None)]
    try:
        for b in a.builds:
            proc, url, work = start(b, a.pin)
            sides.append((b, proc, url, work))
        luas = {name: discard_at_exit(bench.signed_lua(url, a.action))
                for name, _, url, _ in sides}
        total = {name: 0 for name, _, _, _ in sides}
        ticks = {name: [0, 0] for name, _, _, _ in sides}
        for _ in range(a.slices):
            for name, proc, url, _ in sides:
                before = cpu_ticks(proc.pid)
                n, _, _, bad = bench.wrk(url, luas[name], a.seconds, 16, a.pin)
                after = cpu_ticks(proc.pid)
                if bad:
                    sys.exit(f"{name} answered {bad} non-2xx responses: fix that first")
                total[name] += n
                for i in (0, 1):
                    ticks[name][i] += after[i] - before[i]
        secs = a.seconds * a.slices
        tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
        for name, _, _, _ in sides:
            user, kernel = (t * tick_us / max(total[name], 1) for t in ticks[name])
            print(f"{a.action:18} {name:40} {total[name] / secs:>10,.0f} req/s  "
                  f"{total[name] / total['floor']:.3f}x floor  "
                  f"server CPU per request: user {user:5.2f} µs, kernel {kernel:5.2f} µs")
    finally:
        for _, proc, _, work in sides:
            stop(proc)
            if work:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
