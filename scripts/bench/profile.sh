#!/usr/bin/env bash
# Where a request's CPU time goes, by component, measured with a sampling profile: `perf record`
# (software clock, so it works in a VM without hardware counters) of examples/bench_server
# (release, 1 worker pinned to CPU 1, wrk on CPU 0) during two wrk runs of load.sh's kinds:
#   hot   GET /hello  one valid token (from the token cache after the first request)
#   cold  GET /hello  a distinct valid token per request (RS256 verification and a cache insertion)
# Each sample is attributed by its symbol to one component (scripts/bench/profile_report.py:
# kernel, aws-lc, allocator, actix/tokio, aad-auth, ...), and the report gives each component's
# CPU µs per request in both runs and what a distinct token adds, so the share outside our code
# (kernel, actix, the allocator) is shown rather than estimated. Kernel samples are included
# (perf_event_paranoid must allow them, or run as root).
#
#   scripts/bench/profile.sh
#
# Variables: PROFILE_DURATION (10 s per run), PROFILE_CONNECTIONS (32), PROFILE_TOKENS (200000),
# PROFILE_FREQ (sampling frequency, 4999 Hz), PROFILE_TENANT_PORT (8421; the status port is the
# next one), PROFILE_SERVER_PORT (8495), PROFILE_DIR ($CARGO_TARGET_DIR/bench-profile).
# Needs perf (Debian package linux-perf; installed when run as root and it is missing), wrk,
# python3, curl and taskset. About 3 minutes after the build. Not part of `cargo test`.
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${PROFILE_DURATION:-10}
CONNECTIONS=${PROFILE_CONNECTIONS:-32}
TOKENS=${PROFILE_TOKENS:-200000}
FREQ=${PROFILE_FREQ:-4999}
TENANT_PORT=${PROFILE_TENANT_PORT:-8421}
STATUS_PORT=$((TENANT_PORT + 1))
SERVER_PORT=${PROFILE_SERVER_PORT:-8495}
TARGET=${CARGO_TARGET_DIR:-target}
DIR=${PROFILE_DIR:-$TARGET/bench-profile}
LUA=scripts/bench/distinct.lua

# shellcheck source=scripts/bench/common.sh
. scripts/bench/common.sh

require_debian_tool perf linux-perf
require_debian_tool wrk wrk
command -v taskset >/dev/null || die "taskset is not installed (util-linux)"
command -v python3 >/dev/null || die "python3 is not installed"
command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (the server and wrk on their own cores)"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
build_bench_binaries
start_minter "$TOKENS" 600

HOST=127.0.0.1 PORT=$SERVER_PORT WORKERS=1 AAD_TENANT_ID=$TENANT_ID AAD_CLIENT_ID=$CLIENT_ID \
  AAD_OPENID_CONFIG_URL=$CONFIG_URL taskset -c 1 "$BIN/bench_server" 2>"$DIR/server.log" &
SERVER_PID=$!
track "$SERVER_PID"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$SERVER_PORT/open" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "bench_server exited: $(tail -5 "$DIR/server.log")"
  sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello")
[ "$status" = 200 ] || die "GET /hello with the hot token answered $status (server log: $DIR/server.log)"

WRK_PREFIX="taskset -c 0"
WRK_THREADS=1
DURATION=2 run_wrk warmup 1 -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello" >/dev/null

# profiled NAME WRK-ARGS...: one wrk run with perf recording the server; leaves $DIR/NAME.perf
# and prints the wrk output's path.
profiled() {
  local name=$1 out perf_pid
  shift
  perf record -q -F "$FREQ" -e cpu-clock -p "$SERVER_PID" -o "$DIR/$name.perf" 2>"$DIR/$name.perf.log" &
  perf_pid=$!
  # perf has attached once it writes its header; the file appears at that point.
  for _ in $(seq 1 50); do [ -s "$DIR/$name.perf" ] && break; sleep 0.1; done
  out=$(run_wrk "$name" 1 "$@")
  kill -INT "$perf_pid"
  wait "$perf_pid" 2>/dev/null || true
  perf report -i "$DIR/$name.perf" --stdio --no-children --sort dso,symbol --percent-limit 0 -q \
    -F sample,dso,symbol 2>/dev/null >"$DIR/$name.symbols"
  echo "$out"
}

hot=$(profiled hot -H "Authorization: Bearer $HOT" "http://127.0.0.1:$SERVER_PORT/hello")
cold=$(TOKENS_FILE=$TOKENS_FILE profiled cold -s "$LUA" "http://127.0.0.1:$SERVER_PORT/hello")

echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- aad-auth examples || echo ' + uncommitted changes'), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(rustc --version)"
echo "perf: cpu-clock at $FREQ Hz on the server (1 worker, CPU 1); wrk ${DURATION}s, $CONNECTIONS connections, on CPU 0"
python3 scripts/bench/profile_report.py --freq "$FREQ" --tick-us "$TICK_US" \
  hot "$hot" "$DIR/hot.symbols" cold "$cold" "$DIR/cold.symbols"
