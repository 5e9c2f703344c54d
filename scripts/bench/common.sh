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

# build_bench_binaries: the release server and minter; sets BIN.
build_bench_binaries() {
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
