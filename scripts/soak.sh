#!/usr/bin/env bash
# Runs the key-store soak test (tests/tests/soak.rs) for SECONDS (default 120: one cycle and one
# outage past the stale window) and prints its report; the report is also written to
# target/tmp/soak-report.txt.
#
#   scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
cargo build --example bench_server
SOAK_SECONDS="$seconds" cargo test -p aad-auth-tests --test soak -- --nocapture
