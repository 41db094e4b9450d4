"""Two (or more) builds of Sekisho against the floor, in one run: which one is faster, as an
external client sees it.

The method of ../shared/bench/run.sh (whose helpers it reuses): each build runs as a separate
`sekisho serve` on the bench configuration, the floor server beside them, and wrk drives the
floor and each build in turn, slice after slice, so the machine's drift hits every side alike.
Prints each side's req/s and its ratio to the floor. A build is a path to a `sekisho` binary,
optionally followed by `@TOKIO_WORKER_THREADS=N` to run it with that many workers.

Run from the project root, after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/python scripts/bench_ab.py [--action AssumeRole]
        [--seconds 2] [--slices 5] /tmp/sekisho-old target/release/sekisho
"""
import argparse
import os
import shutil
import sys
import tempfile

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
import bench  # noqa: E402  (the shared harness: servers, wrk, the bench identity)


def start(build):
    """Starts `build` (a binary path, optionally `@TOKIO_WORKER_THREADS=N`) as bench.py does."""
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
        proc, url = bench.start_sekisho(PROJECT, False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return proc, url, work


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--action", default="AssumeRole")
    ap.add_argument("--seconds", type=int, default=2, help="seconds per slice")
    ap.add_argument("--slices", type=int, default=5)
    ap.add_argument("--floor", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "sekisho-bench-floor", "release", "floor"))
    a = ap.parse_args()
    floor, furl = bench.start_floor(a.floor, False)
    sides = [("floor", floor, furl, None)]
    try:
        for b in a.builds:
            proc, url, work = start(b)
            sides.append((b, proc, url, work))
        luas = {name: bench.signed_lua(url, a.action) for name, _, url, _ in sides}
        total = {name: 0 for name, _, _, _ in sides}
        for _ in range(a.slices):
            for name, _, url, _ in sides:
                n, _, _, bad = bench.wrk(url, luas[name], a.seconds, 16, False)
                if bad:
                    sys.exit(f"{name} answered {bad} non-2xx responses: fix that first")
                total[name] += n
        secs = a.seconds * a.slices
        for name, _, _, _ in sides:
            print(f"{a.action:18} {name:40} {total[name] / secs:>10,.0f} req/s  "
                  f"{total[name] / total['floor']:.3f}x floor")
    finally:
        for _, proc, _, work in sides:
            proc.terminate()
            proc.wait(timeout=10)
            if work:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
