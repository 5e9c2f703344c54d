#!/usr/bin/env python3
"""The report of scripts/bench/profile.sh: CPU µs per request by component, from perf samples.

Arguments: --freq HZ --tick-us US, then for each run NAME WRK_OUTPUT SYMBOLS, where SYMBOLS is
`perf report --no-children --sort dso,symbol -F sample,dso,symbol -q` output and WRK_OUTPUT has a
`.cpu` file beside it ("requests user-ticks kernel-ticks", written by common.sh's run_wrk).
The first run is the baseline that the others' "adds" column is relative to.
"""

import argparse
import re
import sys

# (component, test on (dso, symbol)); the first that matches wins, so the order matters: the
# allocator's and memcpy's symbols live in libc, aws-lc's are prefixed by aws-lc-sys.
COMPONENTS = [
    ("kernel", lambda dso, sym, kind: kind == "k" or dso.startswith("[kernel")),
    ("aws-lc (RSA verify, SHA-256)", lambda dso, sym, kind: "aws_lc" in sym or "aws-lc" in dso),
    (
        "allocator (glibc malloc/free)",
        lambda dso, sym, kind: re.search(r"(^|_)(malloc|free|realloc|calloc|cfree|tcache|arena|sysmalloc|unlink_chunk|malloc_consolidate)", sym)
        is not None,
    ),
    ("libc memcpy/memcmp/memset", lambda dso, sym, kind: re.match(r"_*(mem|str)", sym) is not None and "libc" in dso),
    ("libc other", lambda dso, sym, kind: "libc" in dso or "ld-linux" in dso),
    ("serde_json", lambda dso, sym, kind: "serde_json" in sym),
    ("base64", lambda dso, sym, kind: "base64" in sym),
    ("quick_cache (token cache)", lambda dso, sym, kind: "quick_cache" in sym),
    ("aad-auth", lambda dso, sym, kind: "aad_auth" in sym),
    ("actix, tokio, http (server and runtime)", lambda dso, sym, kind: re.search(r"actix|tokio|mio|httparse|http::|bytes|h1|futures", sym) is not None),
    ("std and core (hashing, fmt, ...)", lambda dso, sym, kind: re.search(r"(^|[^a-z])(std|core|alloc|hashbrown)[:_]", sym) is not None),
    ("other", lambda dso, sym, kind: True),
]

LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+\[(.)\]\s+(.*)$")


def components(path):
    totals = {name: 0 for name, _ in COMPONENTS}
    top = {}
    with open(path, encoding="utf-8", errors="replace") as symbols:
        for line in symbols:
            match = LINE.match(line)
            if not match:
                continue
            samples, dso, kind, sym = int(match[1]), match[2], match[3], match[4].strip()
            for name, test in COMPONENTS:
                if test(dso, sym, kind):
                    totals[name] += samples
                    break
            top[(dso, sym)] = top.get((dso, sym), 0) + samples
    return totals, top


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--freq", type=float, required=True)
    parser.add_argument("--tick-us", type=float, required=True)
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    if len(args.runs) % 3:
        sys.exit("runs come as NAME WRK_OUTPUT SYMBOLS")
    runs = []
    for i in range(0, len(args.runs), 3):
        name, wrk, symbols = args.runs[i : i + 3]
        with open(wrk + ".cpu", encoding="utf-8") as cpu:
            requests, user, kernel = (int(v) for v in cpu.read().split())
        totals, top = components(symbols)
        us_per_sample = 1e6 / args.freq
        runs.append(
            {
                "name": name,
                "requests": requests,
                "proc_us": (user + kernel) * args.tick_us / requests,
                "sampled_us": sum(totals.values()) * us_per_sample / requests,
                "us": {k: v * us_per_sample / requests for k, v in totals.items()},
                "top": {k: v * us_per_sample / requests for k, v in top.items()},
            }
        )

    base = runs[0]
    header = "| component | " + " | ".join(f"`{r['name']}` µs/req" for r in runs)
    header += "".join(f" | `{r['name']}` adds" for r in runs[1:]) + " |"
    print()
    print(header)
    print("|---" * (1 + len(runs) + len(runs) - 1) + "|")
    for name, _ in COMPONENTS:
        cells = [f"{r['us'][name]:.2f}" for r in runs]
        cells += [f"{r['us'][name] - base['us'][name]:+.2f}" for r in runs[1:]]
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"**{r['sampled_us']:.2f}**" for r in runs]
    cells += [f"**{r['sampled_us'] - base['sampled_us']:+.2f}**" for r in runs[1:]]
    print("| all samples | " + " | ".join(cells) + " |")
    cells = [f"{r['proc_us']:.2f}" for r in runs]
    cells += [f"{r['proc_us'] - base['proc_us']:+.2f}" for r in runs[1:]]
    print("| /proc (user + kernel) | " + " | ".join(cells) + " |")
    print("| requests | " + " | ".join(str(r["requests"]) for r in runs) + "".join(" |" for _ in runs[1:]) + " |")

    for r in runs[1:]:
        print(f"\nWhere `{r['name']}` spends more than `{base['name']}` (µs per request, the 25 largest):\n")
        print("| µs | dso | symbol |\n|---|---|---|")
        keys = set(r["top"]) | set(base["top"])
        deltas = sorted(((r["top"].get(k, 0) - base["top"].get(k, 0), k) for k in keys), reverse=True)
        for delta, (dso, sym) in deltas[:25]:
            print(f"| {delta:+.3f} | {dso} | `{sym[:110]}` |")


if __name__ == "__main__":
    main()
