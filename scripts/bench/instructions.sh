#!/usr/bin/env bash
# Instruction-count benchmark of the bearer guard: examples/bench_server (release, 1 worker) under
# `valgrind --tool=callgrind`, against the local identity provider of load.sh
# (examples/mint_tokens), driven by a sequential keep-alive client outside valgrind
# (scripts/bench/instructions_client.py). Counts do not depend on the VM's speed or on other
# processes, unlike wrk's requests/s.
#
# Per run (a fresh server process each), after a warm-up of INSTR_WARMUP requests per phase, the
# counters are zeroed (callgrind_control --zero), INSTR_REQUESTS requests are sent and the
# counters dumped (callgrind_control --dump), so each dump holds exactly those requests:
#   open     GET /open   no guard, the same Authorization header as `hello`
#   hello    GET /hello  one valid token (verified once in the warm-up, then from the token cache)
#   distinct GET /hello  a distinct valid token per request (RS256 verify and a cache insertion
#                        each; the cache holds them all, so no evictions)  [INSTR_DISTINCT=1]
# and prints instructions per request (all the server's threads, user space; the kernel is not
# counted), the ratio hello : open, the spread over the runs, and, from callgrind_annotate, the
# functions where the last run's `hello` spends more than its `open` (all dumps are kept in
# INSTR_DIR). Under valgrind the CPU has no SHA extensions and no AVX-512 (VEX does not emulate
# them), so libraries that dispatch on CPUID run their AVX2/SSE code paths here.
#
#   scripts/bench/instructions.sh
#
# Variables: INSTR_RUNS (3), INSTR_REQUESTS (2000), INSTR_WARMUP (200), INSTR_DISTINCT (1; 0 to
# skip the distinct-token phase), INSTR_TENANT_PORT (8411; the status port is the next one),
# INSTR_SERVER_PORT (8490), INSTR_DIR ($CARGO_TARGET_DIR/bench-instructions), INSTR_TOP (25).
# Needs valgrind (installs the Debian package when run as root and it is missing), python3, curl.
# About 3 minutes after the build. Not part of `cargo test`.
set -euo pipefail

cd "$(dirname "$0")/../.."
RUNS=${INSTR_RUNS:-3}
REQUESTS=${INSTR_REQUESTS:-2000}
WARMUP=${INSTR_WARMUP:-200}
DISTINCT=${INSTR_DISTINCT:-1}
TENANT_PORT=${INSTR_TENANT_PORT:-8411}
STATUS_PORT=$((TENANT_PORT + 1))
SERVER_PORT=${INSTR_SERVER_PORT:-8490}
TARGET=${CARGO_TARGET_DIR:-target}
DIR=${INSTR_DIR:-$TARGET/bench-instructions}
TOP=${INSTR_TOP:-25}
CLIENT=scripts/bench/instructions_client.py

# shellcheck source=scripts/bench/common.sh
. scripts/bench/common.sh

# --- tools --------------------------------------------------------------------------------------
require_debian_tool valgrind valgrind
require_debian_tool callgrind_control valgrind
command -v python3 >/dev/null || die "python3 is not installed"
command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -f "$DIR"/callgrind.out.*
build_bench_binaries

# --- the identity provider and the tokens ------------------------------------------------------
MINT_COUNT=1
[ "$DISTINCT" = 1 ] && MINT_COUNT=$((RUNS * (WARMUP + REQUESTS)))
start_minter "$MINT_COUNT" 300

# The total instruction count (Ir) of a callgrind dump.
total_of() { sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$1" | head -1; }

declare -A IR
for run in $(seq 1 "$RUNS"); do
  out="$DIR/callgrind.out.run$run"
  HOST=127.0.0.1 PORT=$SERVER_PORT WORKERS=1 AAD_TENANT_ID=$TENANT_ID AAD_CLIENT_ID=$CLIENT_ID \
    AAD_OPENID_CONFIG_URL=$CONFIG_URL \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN/bench_server" \
    >"$DIR/server-run$run.log" 2>&1 &
  SERVER_PID=$!
  track "$SERVER_PID"
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SERVER_PORT/open" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "bench_server exited: $(tail -5 "$DIR/server-run$run.log")"
    sleep 0.2
  done
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello")
  [ "$status" = 200 ] || die "GET /hello with the hot token answered $status (server log: $DIR/server-run$run.log)"

  phase() { # name path token-file [distinct]
    local dump
    dump=$(INSTR_OUT="$out" python3 "$CLIENT" "$SERVER_PID" "$SERVER_PORT" "$2" "$1-run$run" "$WARMUP" "$REQUESTS" "$3" ${4:-}) \
      || die "phase $1 of run $run failed"
    mv "$dump" "$DIR/callgrind.out.$1.run$run"
    IR[$1,$run]=$(total_of "$DIR/callgrind.out.$1.run$run")
    [ -n "${IR[$1,$run]}" ] || die "no total in $DIR/callgrind.out.$1.run$run"
    echo "  run $run: $1 $(awk -v t="${IR[$1,$run]}" -v n="$REQUESTS" 'BEGIN { printf "%.0f", t / n }') instructions per request" >&2
  }
  phase open /open "$HOT_FILE"
  phase hello /hello "$HOT_FILE"
  if [ "$DISTINCT" = 1 ]; then
    # Each run its own slice of the tokens: none was seen by this server before.
    slice="$DIR/distinct-run$run.txt"
    sed -n "$(((run - 1) * (WARMUP + REQUESTS) + 1)),$((run * (WARMUP + REQUESTS)))p" "$TOKENS_FILE" >"$slice"
    phase distinct /hello "$slice" distinct
  fi
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
done

# --- report ------------------------------------------------------------------------------------
PHASES="open hello"
[ "$DISTINCT" = 1 ] && PHASES="$PHASES distinct"
per() { awk -v t="$1" -v n="$REQUESTS" 'BEGIN { printf "%.0f", t / n }'; }
echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- aad-auth examples || echo ' (+ uncommitted changes)')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(rustc --version), $(valgrind --version)"
echo "bench_server (release, 1 worker) under callgrind; $REQUESTS sequential keep-alive requests per phase after $WARMUP of warm-up; instructions per request (Ir, user space, all threads)"
header="| run |"
rule="|---|"
for p in $PHASES; do header="$header $p |"; rule="$rule---|"; done
printf '\n%s hello : open |\n%s---|\n' "$header" "$rule"
for run in $(seq 1 "$RUNS"); do
  row="| $run |"
  for p in $PHASES; do row="$row $(per "${IR[$p,$run]}") |"; done
  ratio=$(awk -v h="${IR[hello,$run]}" -v o="${IR[open,$run]}" 'BEGIN { printf "%.4f", h / o }')
  echo "$row $ratio |"
done
# The spread: (max - min) / median, per phase and for the ratio.
spread() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%.2f%%", 100 * (v[NR] - v[1]) / m }'; }
row="| spread (max − min) / median |"
for p in $PHASES; do
  values=()
  for run in $(seq 1 "$RUNS"); do values+=("${IR[$p,$run]}"); done
  row="$row $(spread "${values[@]}") |"
done
ratios=()
for run in $(seq 1 "$RUNS"); do ratios+=("$(awk -v h="${IR[hello,$run]}" -v o="${IR[open,$run]}" 'BEGIN { print h / o }')"); done
echo "$row $(spread "${ratios[@]}") |"
if [ "$DISTINCT" = 1 ]; then
  echo
  echo "a distinct token adds $(per $((IR[distinct,$RUNS] - IR[open,$RUNS]))) instructions per request over /open (run $RUNS)"
fi

if command -v callgrind_annotate >/dev/null; then
  for p in $PHASES; do
    callgrind_annotate --inclusive=no --threshold=100 "$DIR/callgrind.out.$p.run$RUNS" >"$DIR/annotate-$p.txt" 2>/dev/null || true
    callgrind_annotate --inclusive=yes --threshold=100 "$DIR/callgrind.out.$p.run$RUNS" >"$DIR/annotate-$p-inclusive.txt" 2>/dev/null || true
  done
  # Where hello's extra instructions go: per function, hello minus open, per request (self cost:
  # the instructions of the function's own code; inclusive: with its callees). The first lines of
  # the inclusive list are the thread's and the dispatcher's frames, which contain everything.
  echo
  echo "hello - open, instructions per request by function (run $RUNS; full lists in $DIR/annotate-*.txt):"
  python3 - "$DIR" "$REQUESTS" "$TOP" <<'PY'
import re, sys
out_dir, requests, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    costs = {}
    for line in open(f"{out_dir}/{name}"):
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*?)(?: \[[^\]]*\])?$", line)
        if m and "PROGRAM TOTALS" not in line:
            name_ = re.sub(r"^\S*?:", "", m.group(2), count=1)
            costs[name_] = costs.get(name_, 0) + int(m.group(1).replace(",", ""))
    return costs
for kind, suffix in (("self", ""), ("inclusive", "-inclusive")):
    o, h = load(f"annotate-open{suffix}.txt"), load(f"annotate-hello{suffix}.txt")
    rows = sorted(((h.get(k, 0) - o.get(k, 0)) / requests, k) for k in set(o) | set(h))
    # Skip the rows that contain everything: the thread's and the dispatcher's outer frames (in
    # the self list too, where callgrind_annotate counts the outermost frames like inclusive).
    total = max(d for d, _ in rows)
    rows = [(d, k) for d, k in reversed(rows) if 20 <= d < 0.9 * total]
    print(f"\n{kind} (all of hello - open: {total:.0f}):")
    for d, k in rows[:top]:
        print(f"  {d:8.0f}  {k[:140]}")
PY
fi
