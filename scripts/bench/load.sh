#!/usr/bin/env bash
# Load benchmark of the bearer guard: examples/bench_server (release) against a local identity
# provider (examples/mint_tokens: discovery + JWKS, and the tokens it signed), driven by wrk.
#
# For each worker count (1 and 2), three kinds of runs of BENCH_DURATION seconds (open and hot
# alternate BENCH_REPEAT times and the medians are reported: this machine's speed varies by 10 %
# from one run to the next):
#   open  GET /open   no guard               (the same Authorization header is sent, so that the
#                                             only difference with `hot` is the validation)
#   hot   GET /hello  one valid token         (verified once, then answered by the token cache)
#   cold  GET /hello  a distinct valid token per request (RS256 verification every time)
# and prints requests/s, p50 and p99 latency, the ratio hot/open, the p99 added by the guard, the
# server's CPU time per request (user and kernel, from /proc/PID/stat) and the cold case's added
# CPU time per request next to the RS256 verify floor from criterion (when
# `cargo bench -p aad-auth --features testing --bench validate` was run before), and checks that
# the identity provider served no discovery or JWKS request during the measured runs.
#
#   scripts/bench/load.sh
#
# Variables: BENCH_DURATION (10 s), BENCH_REPEAT (3), BENCH_CONNECTIONS (32), BENCH_WORKERS ("1 2"), BENCH_TOKENS
# (200000 distinct tokens; signing them takes about a minute), BENCH_PIN (1: with one worker,
# pin the server to CPU 1 and wrk to CPU 0; 0: no pinning), BENCH_TENANT_PORT (8401; the status
# port is the next one), BENCH_SERVER_PORT (8480), BENCH_DIR (target/bench). Binaries and the
# criterion floor are read from $CARGO_TARGET_DIR when it is set.
# Not part of `cargo test`: it is slow and measures time.
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
WORKERS_LIST=${BENCH_WORKERS:-"1 2"}
TOKENS=${BENCH_TOKENS:-200000}
PIN=${BENCH_PIN:-1}
TENANT_PORT=${BENCH_TENANT_PORT:-8401}
STATUS_PORT=$((TENANT_PORT + 1))
SERVER_PORT=${BENCH_SERVER_PORT:-8480}
DIR=${BENCH_DIR:-target/bench}
LUA=scripts/bench/distinct.lua
NPROC=$(nproc)

# shellcheck source=scripts/bench/common.sh
. scripts/bench/common.sh

# --- tools --------------------------------------------------------------------------------------
require_debian_tool wrk wrk
command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"
if [ "$PIN" = 1 ] && { [ "$NPROC" -lt 2 ] || ! command -v taskset >/dev/null; }; then
  echo "note: no pinning (needs taskset and 2 CPUs)" >&2
  PIN=0
fi

mkdir -p "$DIR"
build_bench_binaries

# --- the identity provider and the tokens ------------------------------------------------------
start_minter "$TOKENS" 600
counts() { curl -fsS "$STATUS_URL"; }

RESULTS=()
CPU=()
FETCH_OK=1
for W in $WORKERS_LIST; do
  if [ "$PIN" = 1 ] && [ "$W" = 1 ]; then
    SERVER_PREFIX="taskset -c 1"
    WRK_PREFIX="taskset -c 0"
    WRK_THREADS=1
  else
    SERVER_PREFIX=""
    WRK_PREFIX=""
    WRK_THREADS=$NPROC
  fi
  HOST=127.0.0.1 PORT=$SERVER_PORT WORKERS=$W AAD_TENANT_ID=$TENANT_ID AAD_CLIENT_ID=$CLIENT_ID \
    AAD_OPENID_CONFIG_URL=$CONFIG_URL $SERVER_PREFIX "$BIN/bench_server" 2>"$DIR/server-w$W.log" &
  SERVER_PID=$!
  track "$SERVER_PID"
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SERVER_PORT/open" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "bench_server exited: $(tail -5 "$DIR/server-w$W.log")"
    sleep 0.1
  done
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello")
  [ "$status" = 200 ] || die "GET /hello with the hot token answered $status (server log: $DIR/server-w$W.log)"
  # A short warm-up of every path.
  DURATION=2 run_wrk warmup "$W" -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello" >/dev/null

  before=$(counts)
  opens=()
  hots=()
  for r in $(seq 1 "$REPEAT"); do
    opens+=("$(run_wrk "open-$r" "$W" -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/open")")
    hots+=("$(run_wrk "hot-$r" "$W" -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello")")
  done
  cold=$(TOKENS_FILE=$TOKENS_FILE WRK_THREADS=$WRK_THREADS run_wrk cold "$W" -s "$LUA" "http://127.0.0.1:$SERVER_PORT/hello")
  after=$(counts)
  if [ "$before" != "$after" ]; then
    echo "FAIL: the identity provider was called during the measured runs (workers=$W): $before -> $after" >&2
    FETCH_OK=0
  fi
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true

  cold_requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$cold")
  RESULTS+=("$W $(summary "${opens[@]}") $(summary "${hots[@]}") $(summary "$cold") $cold_requests ${SERVER_PREFIX:+pinned}")
  CPU+=("$W $(cpu_summary "${opens[@]}") $(cpu_summary "${hots[@]}") $(cpu_summary "$cold")")
  for r in $(seq 1 "$REPEAT"); do
    echo "  workers=$W round $r: /open $(rps_of "${opens[r - 1]}") rps, /hello $(rps_of "${hots[r - 1]}") rps" >&2
  done
  echo "workers=$W done; metadata requests before/after: $before / $after" >&2
done

# --- report ------------------------------------------------------------------------------------
FLOOR_NS=""
EST=${CARGO_TARGET_DIR:-target}/criterion/floor/rs256_verify/new/estimates.json
if [ -f "$EST" ]; then
  FLOOR_NS=$(sed -n 's/.*"mean":{"confidence_interval":{[^}]*},"point_estimate":\([0-9.e+-]*\).*/\1/p' "$EST")
fi

echo
echo "machine: $NPROC CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(rustc --version)"
echo "wrk: ${DURATION}s per run, $CONNECTIONS connections, medians of $REPEAT runs for /open and one token; one run of $TOKENS distinct tokens"
printf '\n| workers | run | requests/s | p50 ms | p99 ms | vs /open |\n|---|---|---|---|---|---|\n'
for row in "${RESULTS[@]}"; do
  set -- $row
  W=$1
  pin=${12:-}
  printf '| %s%s | /open | %.0f | %s | %s | |\n' "$W" "${pin:+ (pinned)}" "$2" "$3" "$4"
  printf '| %s%s | /hello, one token | %.0f | %s | %s | %s rps, p99 %+.3f ms |\n' "$W" "${pin:+ (pinned)}" "$5" "$6" "$7" \
    "$(awk -v h="$5" -v o="$2" 'BEGIN { printf "%.1f%%", 100 * h / o }')" "$(awk -v h="$7" -v o="$4" 'BEGIN { print h - o }')"
  printf '| %s%s | /hello, distinct tokens | %.0f | %s | %s | %s rps |\n' "$W" "${pin:+ (pinned)}" "$8" "$9" "${10}" \
    "$(awk -v h="$8" -v o="$2" 'BEGIN { printf "%.1f%%", 100 * h / o }')"
done
echo
for row in "${RESULTS[@]}"; do
  set -- $row
  W=$1
  cores=$W
  [ -n "${12:-}" ] || cores=$NPROC
  # Time added per request by validating a new token, from requests/s: core-µs of wall-clock time
  # (an upper bound when wrk shares those cores, and an overestimate when the core is not
  # saturated; the CPU table below does not assume either).
  added=$(awk -v c="$8" -v o="$2" -v n="$cores" 'BEGIN { printf "%.1f", n * 1e6 * (1 / c - 1 / o) }')
  line="workers=$W: from requests/s, a distinct token adds ${added} µs per request (x $cores core(s))"
  if [ -n "$FLOOR_NS" ]; then
    line="$line; RS256 verify floor $(awk -v f="$FLOOR_NS" 'BEGIN { printf "%.1f", f / 1000 }') µs; ratio $(awk -v a="$added" -v f="$FLOOR_NS" 'BEGIN { printf "%.2f", a * 1000 / f }')"
  fi
  if [ "${11}" -gt "$TOKENS" ]; then
    line="$line (${11} cold requests > $TOKENS tokens: some tokens were sent twice; the default cache holds about 10,000, so with far more tokens a reuse is still a miss)"
  fi
  echo "$line"
done
# The server's own CPU time per request, whatever the core's utilisation: the validation runs in
# user space; the kernel part is the network stack, which costs more per request when wrk, waiting
# on a slower server, sleeps and must be woken for each response.
FLOOR_US=""
[ -z "$FLOOR_NS" ] || FLOOR_US=$(awk -v f="$FLOOR_NS" 'BEGIN { printf "%.1f", f / 1000 }')
printf '\nServer CPU µs per request (user + kernel, from /proc/PID/stat; medians of the runs)%s:\n' \
  "${FLOOR_US:+; RS256 verify floor $FLOOR_US µs}"
printf '\n| workers | /open | /hello, one token | /hello, distinct tokens | a distinct token adds | x floor (all / user) |\n|---|---|---|---|---|---|\n'
for row in "${CPU[@]}"; do
  set -- $row
  cell() { awk -v u="$1" -v k="$2" 'BEGIN { printf "%.1f (%.1f + %.1f)", u + k, u, k }'; }
  added_user=$(awk -v c="$6" -v o="$2" 'BEGIN { printf "%.1f", c - o }')
  added_kernel=$(awk -v c="$7" -v o="$3" 'BEGIN { printf "%.1f", c - o }')
  added=$(awk -v u="$added_user" -v k="$added_kernel" 'BEGIN { printf "%.1f", u + k }')
  ratio=""
  [ -z "$FLOOR_NS" ] || ratio=$(awk -v a="$added" -v u="$added_user" -v f="$FLOOR_NS" 'BEGIN { printf "%.2f / %.2f", a * 1000 / f, u * 1000 / f }')
  printf '| %s | %s | %s | %s | %s (user %s, kernel %s) | %s |\n' "$1" "$(cell "$2" "$3")" "$(cell "$4" "$5")" \
    "$(cell "$6" "$7")" "$added" "$added_user" "$added_kernel" "$ratio"
done
echo
if [ "$FETCH_OK" = 1 ]; then
  echo "no discovery or JWKS request during the measured runs: ok"
else
  echo "discovery or JWKS requests during the measured runs: FAIL"
  exit 1
fi
