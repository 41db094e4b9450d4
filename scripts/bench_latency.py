"""Latency under half load, as an external client sees it (issue #17: "p99 under half load below
1 ms").

For each action: first the most the server answers (wrk, closed loop, 16 connections, as
../shared/bench/run.sh drives it), then a paced run at about half that rate, where wrk waits
1 ms after each answer on each connection (its `delay()` hook) and the number of connections
sets the rate. wrk is closed loop, so a stall delays the requests behind it instead of queueing
them (coordinated omission): the percentiles are those of the requests sent, and a stall shows
as a lower achieved rate, which is printed next to the target. wrk2 (open loop) is not packaged
for Debian.

The same paced run is then made against the fixed-body floor server, with the same number of
connections: what the machine and wrk give at that pacing with no work behind the answers.
wrk's pause is kept in whole milliseconds, so paced connections fire together on its timer ticks
and arrive in bursts; the floor's line shows how much of a percentile that (and the machine's
own stalls) accounts for.

Run from the project root, after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/python scripts/bench_latency.py [--actions GetCallerIdentity,AssumeRole]
        [--seconds 10] [--floor PATH]
Per action: "<Action> full: F req/s; half load: R req/s (target T, N connections paced 1 ms),
p50 …, p90 …, p99 …", then "<Action> floor at the same pacing: R req/s, p50 …, p90 …, p99 …".
"""
import argparse
import os
import re
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "..", "shared", "bench"))
import bench  # noqa: E402  (the shared harness: servers, wrk, the bench identity)
from bench_verify import FLOOR, discard_at_exit, stop  # noqa: E402

PACE_MS = 1


def wrk(url, lua, seconds, conns):
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", lua,
                          url + "/"], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        sys.exit(f"{bad.group(1)} non-2xx answers: fix that first")
    return n / seconds, lat


def paced(lua):
    """`lua` with a pause of PACE_MS after each answer, per connection."""
    path = lua[:-4] + "-paced.lua"
    with open(lua) as src, open(path, "w") as dst:
        dst.write(src.read() + f"function delay() return {PACE_MS} end\n")
    return discard_at_exit(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--actions", default="GetCallerIdentity,AssumeRole")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--floor", default=FLOOR)
    a = ap.parse_args()
    floor, furl = bench.start_floor(a.floor, False)
    try:
        proc, url = bench.start_sekisho(PROJECT, False)
    except BaseException:
        stop(floor)
        raise
    try:
        for action in a.actions.split(","):
            lua = discard_at_exit(bench.signed_lua(url, action))
            wrk(url, lua, 2, 16)  # warm-up
            full, _ = wrk(url, lua, a.seconds, 16)
            target = full / 2
            # Each connection answers about once per (pause + latency); the latency at half
            # load is a fraction of a millisecond, so a first guess, then one correction.
            conns = max(1, round(target * PACE_MS / 1000))
            rate, lat = wrk(url, paced(lua), a.seconds, conns)
            if rate < target * 0.9:
                conns = max(1, round(conns * target / rate))
                rate, lat = wrk(url, paced(lua), a.seconds, conns)
            print(f"{action} full: {full:,.0f} req/s; half load: {rate:,.0f} req/s (target "
                  f"{target:,.0f}, {conns} connections paced {PACE_MS} ms), p50 {lat.get('50')}, "
                  f"p90 {lat.get('90')}, p99 {lat.get('99')}", flush=True)
            floor_lua = paced(discard_at_exit(bench.signed_lua(furl, action)))
            rate, lat = wrk(furl, floor_lua, a.seconds, conns)
            print(f"{action} floor at the same pacing: {rate:,.0f} req/s, p50 {lat.get('50')}, "
                  f"p90 {lat.get('90')}, p99 {lat.get('99')}", flush=True)
    finally:
        try:
            stop(proc)
        finally:
            stop(floor)


if __name__ == "__main__":
    main()
