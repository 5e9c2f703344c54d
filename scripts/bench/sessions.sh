#!/usr/bin/env bash
# Session benchmark: examples/bench_sessions (release; it embeds a local tenant and signs its
# first user in through the real login) with the session in the encrypted cookie and in a local
# redis-server, driven by wrk. Per store, BENCH_REPEAT rounds of
#   open     GET /open     no guard (the same Cookie header is sent)
#   bearer   GET /hello    the session's access token as a bearer token (cached after the first)
#   session  GET /session  the session cookie (#[api_auth_required(allow_session)])
# each twice: at BENCH_CONNECTIONS connections (throughput, the server's CPU µs per request from
# /proc/PID/stat) and at one connection (latency without queueing: p50 and p99). Prints the
# medians and session : bearer at p50.
#
#   scripts/bench/sessions.sh
#
# Variables: BENCH_DURATION (8 s), BENCH_REPEAT (3), BENCH_CONNECTIONS (32), BENCH_WORKERS (1),
# BENCH_PIN (1: server on CPU 1, wrk and Redis on CPU 0), BENCH_SERVER_PORT (8470),
# BENCH_REDIS_PORT (8479), BENCH_DIR (target/bench-sessions). Needs wrk and redis-server (Debian
# packages, installed when run as root). Not part of `cargo test`.
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${BENCH_DURATION:-8}
REPEAT=${BENCH_REPEAT:-3}
CONNECTIONS_LOAD=${BENCH_CONNECTIONS:-32}
WORKERS=${BENCH_WORKERS:-1}
PIN=${BENCH_PIN:-1}
SERVER_PORT=${BENCH_SERVER_PORT:-8470}
REDIS_PORT=${BENCH_REDIS_PORT:-8479}
DIR=${BENCH_DIR:-target/bench-sessions}
NPROC=$(nproc)

# shellcheck source=scripts/bench/common.sh
. scripts/bench/common.sh

require_debian_tool wrk wrk
require_debian_tool redis-server redis-server
command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"
command -v python3 >/dev/null || die "python3 is not installed"
if [ "$PIN" = 1 ] && { [ "$NPROC" -lt 2 ] || ! command -v taskset >/dev/null; }; then
  echo "note: no pinning (needs taskset and 2 CPUs)" >&2
  PIN=0
fi
SERVER_PREFIX=""
WRK_PREFIX=""
WRK_THREADS=$NPROC
if [ "$PIN" = 1 ]; then
  SERVER_PREFIX="taskset -c 1"
  WRK_PREFIX="taskset -c 0"
  WRK_THREADS=1
fi

mkdir -p "$DIR"
echo "building (release)..." >&2
cargo build --release -q -p aad-auth-examples --example bench_sessions
BIN=${CARGO_TARGET_DIR:-target}/release/examples

$WRK_PREFIX redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  >"$DIR/redis.log" 2>&1 &
track $!

ROWS=()
for STORE in cookie "redis://127.0.0.1:$REDIS_PORT/0"; do
  name=cookie
  [ "$STORE" = cookie ] || name=redis
  : >"$DIR/server-$name.json"
  HOST=127.0.0.1 PORT=$SERVER_PORT WORKERS=$WORKERS SESSION_STORE=$STORE $SERVER_PREFIX "$BIN/bench_sessions" \
    >"$DIR/server-$name.json" 2>"$DIR/server-$name.log" &
  SERVER_PID=$!
  track "$SERVER_PID"
  # The server prints its line once the login is done (there is no other signal to wait for).
  for _ in $(seq 1 300); do
    [ -s "$DIR/server-$name.json" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "bench_sessions exited: $(tail -5 "$DIR/server-$name.log")"
    sleep 0.1
  done
  [ -s "$DIR/server-$name.json" ] || die "bench_sessions did not sign in within 30 s"
  json_field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$DIR/server-$name.json" "$1"; }
  URL=$(json_field url)
  COOKIE=$(json_field cookie)
  TOKEN=$(json_field token)
  for check in "session:-H:Cookie: $COOKIE" "hello:-H:Authorization: Bearer $TOKEN"; do
    path=${check%%:*}
    header=${check#*:-H:}
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "$URL/$path")
    [ "$status" = 200 ] || die "GET /$path answered $status ($DIR/server-$name.log)"
  done
  CONNECTIONS=$CONNECTIONS_LOAD DURATION=2 run_wrk "warmup-$name" "$WORKERS" -H "Cookie: $COOKIE" "$URL/session" >/dev/null

  declare -A LOAD=() LATENCY=()
  for r in $(seq 1 "$REPEAT"); do
    for kind in open bearer session; do
      case $kind in
        open) args=(-H "Cookie: $COOKIE" "$URL/open") ;;
        bearer) args=(-H "Authorization: Bearer $TOKEN" "$URL/hello") ;;
        session) args=(-H "Cookie: $COOKIE" "$URL/session") ;;
      esac
      LOAD[$kind]+=" $(CONNECTIONS=$CONNECTIONS_LOAD run_wrk "$name-$kind-load-$r" "$WORKERS" "${args[@]}")"
      LATENCY[$kind]+=" $(CONNECTIONS=1 WRK_THREADS=1 run_wrk "$name-$kind-latency-$r" "$WORKERS" "${args[@]}")"
    done
  done
  for kind in open bearer session; do
    # shellcheck disable=SC2086
    ROWS+=("$name $kind $(summary ${LOAD[$kind]}) $(summary ${LATENCY[$kind]}) $(cpu_summary ${LOAD[$kind]})")
  done
  unset LOAD LATENCY
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  echo "$name done" >&2
done

echo
echo "machine: $NPROC CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(rustc --version)"
echo "wrk: ${DURATION}s per run, medians of $REPEAT rounds; load at $CONNECTIONS_LOAD connections, latency at 1; $WORKERS worker(s)${SERVER_PREFIX:+, pinned}"
printf '\n| store | request | load requests/s | load p50 ms | load p99 ms | 1-conn p50 ms | 1-conn p99 ms | server CPU µs/req (user + kernel) |\n|---|---|---|---|---|---|---|---|\n'
declare -A P50
for row in "${ROWS[@]}"; do
  set -- $row
  printf '| %s | %s | %.0f | %s | %s | %s | %s | %s + %s |\n' "$1" "$2" "$3" "$4" "$5" "$7" "$8" "$9" "${10}"
  P50[$1,$2]=$7
done
echo
for store in cookie redis; do
  echo "$store: session : bearer at 1-connection p50 = $(awk -v s="${P50[$store,session]}" -v b="${P50[$store,bearer]}" 'BEGIN { printf "%.2f", s / b }')"
done
