# Shared by the benchmark scripts (sourced, not run): tool checks, the release build, process
# clean-up, and the local identity provider with its signed tokens (examples/mint_tokens).
# The caller sets DIR, TENANT_PORT and STATUS_PORT first.

die() { echo "error: $*" >&2; exit 1; }

# require_debian_tool COMMAND PACKAGE: installs PACKAGE when COMMAND is missing and we are root
# with apt-get; dies otherwise.
require_debian_tool() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "$1 is missing; installing the Debian package $2" >&2
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; } \
      || die "could not install $2 (apt-get install $2)"
  else
    die "$1 is not installed: install the Debian package '$2' (sudo apt-get install $2)"
  fi
}

# build_bench_binaries: the release server and minter; sets BIN. With BENCH_BIN set (a directory
# holding bench_server and mint_tokens built earlier, say from the commit before a change),
# nothing is built and those are used.
build_bench_binaries() {
  if [ -n "${BENCH_BIN:-}" ]; then
    [ -x "$BENCH_BIN/bench_server" ] && [ -x "$BENCH_BIN/mint_tokens" ] || die "BENCH_BIN=$BENCH_BIN has no bench_server and mint_tokens"
    BIN=$BENCH_BIN
    return
  fi
  echo "building (release)..." >&2
  cargo build --release -q -p aad-auth-examples --example bench_server --example mint_tokens
  BIN=${CARGO_TARGET_DIR:-target}/release/examples
}

# Every process started through `track PID` is killed on exit.
PIDS=()
track() { PIDS+=("$1"); }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_minter COUNT MAX_SECONDS: starts mint_tokens (COUNT tokens) and waits until it has
# written $DIR/mint.json; sets TENANT_ID, CLIENT_ID, CONFIG_URL, TOKENS_FILE, STATUS_URL, HOT.
# mint.json appears only once every token is signed, so this polls (it has no other signal).
start_minter() {
  local count=$1 max_seconds=$2 tries
  echo "signing $count tokens..." >&2
  : >"$DIR/mint.json"
  MINT_TENANT_PORT=$TENANT_PORT MINT_STATUS_PORT=$STATUS_PORT MINT_COUNT=$count MINT_DIR=$DIR \
    "$BIN/mint_tokens" >"$DIR/mint.json" 2>"$DIR/mint.log" &
  MINT_PID=$!
  track "$MINT_PID"
  tries=$((max_seconds * 2))
  for _ in $(seq 1 "$tries"); do
    [ -s "$DIR/mint.json" ] && break
    kill -0 "$MINT_PID" 2>/dev/null || die "mint_tokens exited: $(tail -5 "$DIR/mint.log")"
    sleep 0.5
  done
  [ -s "$DIR/mint.json" ] || die "mint_tokens did not get ready in $max_seconds seconds"
  TENANT_ID=$(mint_field tenant_id)
  CLIENT_ID=$(mint_field api_client_id)
  CONFIG_URL=$(mint_field openid_config_url)
  TOKENS_FILE=$(mint_field tokens)
  STATUS_URL=$(mint_field status_url)
  HOT_FILE=$(mint_field hot)
  HOT=$(cat "$HOT_FILE")
}
mint_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$DIR/mint.json"; }

# --- wrk runs and their output (the caller sets DURATION, CONNECTIONS, WRK_THREADS, WRK_PREFIX
# and SERVER_PID) --------------------------------------------------------------------------------
# Milliseconds from a wrk duration (123.45us, 1.20ms, 1.5s).
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
rps_of() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
pct_of() { to_ms "$(awk -v p="$2%" '$1 == p { print $2 }' "$1")"; }
check_ok() {
  if grep -q "Non-2xx" "$1" || grep -q "Socket errors" "$1"; then
    die "errors during $(basename "$1" .txt): $(grep -E 'Non-2xx|Socket errors' "$1")"
  fi
}

# The median of numbers, one per argument.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# "rps p50 p99" medians over wrk output files.
summary() {
  local rps=() p50=() p99=() file
  for file in "$@"; do
    rps+=("$(rps_of "$file")")
    p50+=("$(pct_of "$file" 50)")
    p99+=("$(pct_of "$file" 99)")
  done
  echo "$(median "${rps[@]}") $(median "${p50[@]}") $(median "${p99[@]}")"
}

# The server's CPU time so far, user and kernel, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which ends with the last ')').
server_ticks() { sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12, $13 }'; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Runs wrk and writes, next to its output, "requests user-ticks kernel-ticks": the server's CPU
# time during the run. CPU time per request is the measure that does not assume the server's
# core was saturated.
run_wrk() { # name workers wrk-args...
  local name=$1 workers=$2
  shift 2
  local out="$DIR/wrk-$name-w$workers.txt" before after
  before=$(server_ticks)
  $WRK_PREFIX wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency "$@" >"$out" 2>&1 \
    || die "wrk failed: $(tail -3 "$out")"
  after=$(server_ticks)
  check_ok "$out"
  echo "$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$out") $before $after" \
    | awk '{ print $1, $4 - $2, $5 - $3 }' >"$out.cpu"
  echo "$out"
}

# "user kernel": the server's median CPU µs per request over wrk output files (each field's own
# median).
cpu_summary() {
  local user=() kernel=() file
  for file in "$@"; do
    read -r n u k <"$file.cpu"
    user+=("$(awk -v n="$n" -v t="$u" -v us="$TICK_US" 'BEGIN { printf "%.2f", t * us / n }')")
    kernel+=("$(awk -v n="$n" -v t="$k" -v us="$TICK_US" 'BEGIN { printf "%.2f", t * us / n }')")
  done
  echo "$(median "${user[@]}") $(median "${kernel[@]}")"
}

