#!/usr/bin/env python3
"""The client of scripts/bench/instructions.sh: one phase of sequential requests on one keep-alive
connection to a server running under callgrind, with the counters zeroed after the warm-up and
dumped after the measured requests, so that the dump holds exactly COUNT requests (no connection
set-up, no start-up).

    instructions_client.py PID PORT PATH NAME WARMUP COUNT TOKEN_FILE [distinct]

TOKEN_FILE holds tokens, one per line. Without `distinct`, every request carries the first one
(the same header for /open and /hello); with it, request i carries line i (warm-up first, then
the measured requests, each token sent once). Every answer must be 200. Prints the dump's path.
Runs outside valgrind; only the server is measured.
"""

import glob
import http.client
import os
import subprocess
import sys


def main() -> int:
    pid, port, path, name, warmup, count, token_file = sys.argv[1:8]
    distinct = len(sys.argv) > 8 and sys.argv[8] == "distinct"
    warmup, count = int(warmup), int(count)
    with open(token_file, encoding="ascii") as f:
        tokens = [line.strip() for line in f if line.strip()]
    needed = warmup + count if distinct else 1
    if len(tokens) < needed:
        print(f"{token_file}: {len(tokens)} tokens, {needed} needed", file=sys.stderr)
        return 1

    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)

    def request(i: int) -> None:
        token = tokens[i] if distinct else tokens[0]
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{name}: GET {path} request {i} answered {response.status}")
        if response.getheader("connection", "").lower() == "close":
            raise SystemExit(f"{name}: the server closed the keep-alive connection")

    def control(*args: str) -> None:
        # callgrind_control talks to the process through vgdb, which interrupts it even while
        # it waits in epoll, so no request is needed to deliver the command. vgdb finds the
        # process by a file name made of $TMPDIR, the pid, $LOGNAME or $USER and $HOST, as the
        # server saw them: it was started with HOST=127.0.0.1 (its listening address).
        env = dict(os.environ, HOST="127.0.0.1")
        subprocess.run(["callgrind_control", *args, pid], check=True, stdout=subprocess.DEVNULL, env=env)

    for i in range(warmup):
        request(i)
    out_dir = os.path.dirname(os.environ["INSTR_OUT"])
    control("--zero")
    for i in range(warmup, warmup + count):
        request(i)
    before = set(glob.glob(os.path.join(out_dir, "callgrind.out.*")))
    control(f"--dump={name}")
    conn.close()
    dumps = sorted(set(glob.glob(os.path.join(out_dir, "callgrind.out.*"))) - before, key=os.path.getmtime)
    if not dumps:
        print(f"{name}: no new callgrind dump in {out_dir}", file=sys.stderr)
        return 1
    print(dumps[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
