"""What the scheduler does per request: the floor server against Sekisho, under the same wrk load.

The ratios of ../shared/bench/run.sh are measured with wrk on the same two cores as the server.
The slower a server answers, the more often wrk's threads run out of work and sleep, and each
answer then has to wake one: a context switch on each side and, when the sleeper was on the
other core, a rescheduling interrupt (RES) between the vCPUs. This script counts those events
machine-wide (/proc/stat `ctxt`, /proc/interrupts `RES` and `CAL`) while wrk drives one server
at a time, and prints them per request, so that the share of a ratio that is scheduling rather
than the server's own work can be read off. It also counts the server's own switches (its
threads' /proc status): voluntary ones, where it ran out of work and slept, and involuntary
ones, where it was preempted with work in hand, mostly by a wrk thread it had just woken.

Run from the project root, after ../shared/bench/run.sh has built the floor and the venv:
    /tmp/sekisho-bench-venv/bin/python scripts/bench_sched.py [--seconds 5] [--rounds 2]
        [--actions GetCallerIdentity,AssumeRole,verify]
It takes the other bench scripts' options (`bench_verify.arguments`); `--seconds` is the length
of each wrk run, and `--slices` is not used.
"""
import os
import re
import sys

import bench_verify as bv

sys.path.insert(0, os.path.join(bv.PROJECT, "..", "shared", "bench"))
import bench  # noqa: E402  (the shared harness: servers, wrk, the bench identity)

# Interrupt lines of /proc/interrupts that count here: rescheduling and function-call IPIs.
IPIS = ("RES", "CAL")


def counters():
    """Machine-wide context switches and IPIs so far."""
    out = {}
    with open("/proc/interrupts") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0].rstrip(":") in IPIS:
                out[fields[0].rstrip(":")] = sum(int(x) for x in fields[1:] if x.isdigit())
    with open("/proc/stat") as f:
        out["ctxt"] = int(re.search(r"^ctxt (\d+)", f.read(), re.M).group(1))
    return out


def server_switches(pid):
    """The voluntary and involuntary context switches of process `pid`'s threads so far."""
    vol = invol = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol += int(line.split()[1])
        except OSError:  # a thread that ended between the listing and the read
            pass
    return vol, invol


def main():
    def extra(ap):
        ap.add_argument("--rounds", type=int, default=2)
        ap.add_argument("--actions", default="GetCallerIdentity,AssumeRole,verify")
    a = bv.arguments(extra)
    floor, furl = bench.start_floor(a.floor, a.pin)
    sek, surl = bench.start_sekisho(bv.PROJECT, a.pin)
    try:
        cases = []
        for action in a.actions.split(","):
            if action == "verify":
                lua = bv.signed_lua(surl, bv.question(bv.session_credentials(surl)))
                cases.append((action, furl + "/", surl + "/verify", lua))
            else:
                lua = bv.discard_at_exit(bench.signed_lua(surl, action))
                cases.append((action, furl + "/", surl + "/", lua))
        print(f"{'':28} {'req/s':>9}  per request: context switches (machine; the server's"
              " voluntary, involuntary), " + ", ".join(f"{k} IPIs" for k in IPIS))
        for _ in range(a.rounds):
            for action, floor_url, sek_url, lua in cases:
                for name, url, proc in (("floor", floor_url, floor), ("sekisho", sek_url, sek)):
                    before, own_before = counters(), server_switches(proc.pid)
                    n, _, _ = bv.wrk_checked(name, url, lua, a.seconds, a)
                    after, own_after = counters(), server_switches(proc.pid)
                    n = max(n, 1)
                    per = {k: (after[k] - before.get(k, 0)) / n for k in after}
                    vol, invol = ((x - y) / n for x, y in zip(own_after, own_before))
                    print(f"{action:18} {name:9} {n / a.seconds:>9,.0f}  {per['ctxt']:.3f} "
                          f"({vol:.3f}, {invol:.3f}), "
                          + ", ".join(f"{per.get(k, 0):.3f}" for k in IPIS), flush=True)
    finally:
        for p in (floor, sek):
            bv.stop(p)


if __name__ == "__main__":
    main()
