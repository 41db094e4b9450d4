"""Calls per request into chosen functions, by direct caller, from a callgrind dump.

`scripts/cost.py` prints the dump it wrote (`dump /tmp/callgrind-….out.1`); this reads its
`calls=` records and counts the calls into every function whose name matches REGEX (by default
the allocator: jemalloc's `malloc`, `mallocx`, `calloc`, `rallocx`, `realloc`), per
request, grouped by the function that made them. Use a release build: in a debug build every
allocation's direct caller is the allocator's wrapper.

    python3 scripts/alloc_calls.py DUMP REQUESTS [--regex 'finish_grow'] [--top 40]

Other useful patterns: `finish_grow` (a Vec or String grew), `'sdallocx$'`, `'Timespec>::now$'`
(clock reads).
"""
import argparse
import collections
import re

ALLOCATOR = r"^_rjem_(malloc|mallocx|calloc|realloc|rallocx)$"


def count(path, pattern):
    """(total calls, Counter of calls by calling function) into functions matching `pattern`."""
    names = {}

    def name(text):
        # Callgrind compresses names: "(12) full name" the first time, "(12)" afterwards.
        m = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not m:
            return text
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), text)

    fn = cfn = None
    by_caller = collections.Counter()
    total = 0
    with open(path) as fh:
        for line in fh:
            if line.startswith("fn="):
                fn = name(line[3:].strip())
            elif line.startswith("cfn="):
                cfn = name(line[4:].strip())
            elif line.startswith("calls=") and cfn and pattern.search(cfn):
                if fn and pattern.search(fn):
                    continue  # a matching function calling another (realloc → malloc)
                n = int(line[6:].split()[0])
                by_caller[fn] += n
                total += n
    return total, by_caller


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump")
    ap.add_argument("requests", type=int)
    ap.add_argument("--regex", default=ALLOCATOR)
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    total, by_caller = count(a.dump, re.compile(a.regex))
    print(f"{total / a.requests:.1f} calls per request into /{a.regex}/")
    for caller, n in by_caller.most_common(a.top):
        print(f"{n / a.requests:7.2f}  {caller[:140]}")


if __name__ == "__main__":
    main()
