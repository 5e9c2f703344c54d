#!/usr/bin/env bash
# Fuzzes every target in fuzz/ for SECONDS_PER_TARGET seconds (default 20), one after the other,
# and prints per target the executions, the final coverage (libFuzzer's `cov:` and `ft:`) and
# the crashes. Exits non-zero when a target crashed (its input is kept in fuzz/artifacts/).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Needs cargo-fuzz (installed from crates.io when missing) and a nightly toolchain; without one
# it builds with the stable toolchain and RUSTC_BOOTSTRAP=1 (for the fuzz build only), and when
# that fails too it prints "fuzzing skipped: no nightly toolchain" and exits 0.
#
# The committed seeds (fuzz/corpus/<target>/) are only read: each run grows its corpus in a
# temporary directory, removed at the end (FUZZ_KEEP_CORPUS=DIR keeps it under DIR/<target>).
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (for example FUZZ_FLAGS=-rss_limit_mb=4096).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The toolchain: nightly when there is one, else stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz
# passes `-Z` flags, which only nightly accepts).
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
    echo "== fuzzing with $(rustup run nightly rustc --version)"
else
    export RUSTC_BOOTSTRAP=1
    echo "== no nightly toolchain: fuzzing with $(rustc --version) and RUSTC_BOOTSTRAP=1"
fi

echo "== building the fuzz targets"
if ! cargo "${toolchain[@]}" fuzz build; then
    if [ "${#toolchain[@]}" -eq 0 ]; then
        echo "fuzzing skipped: no nightly toolchain (and the stable build with RUSTC_BOOTSTRAP=1 failed)"
        exit 0
    fi
    echo "the fuzz build failed" >&2
    exit 1
fi

# The local tenant of the `validate` target runs actix-web, whose router leaks on purpose.
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
failed=()
summary=()
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    mkdir -p "$corpus" "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="$work/$target.log"
    flags=(-max_total_time="$seconds" -print_final_stats=1)
    if [ -f "fuzz/dicts/$target.dict" ]; then
        flags+=(-dict="fuzz/dicts/$target.dict")
    fi
    # shellcheck disable=SC2206
    flags+=(${FUZZ_FLAGS:-})
    echo "== $target: ${seconds}s"
    status=0
    cargo "${toolchain[@]}" fuzz run "$target" "$corpus" "fuzz/corpus/$target" -- "${flags[@]}" >"$log" 2>&1 || status=$?
    # libFuzzer's last status line (`#N DONE cov: C ft: F corp: …`) and its final stats.
    last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
    execs="$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)"
    speed="$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)"
    cov="$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)"
    ft="$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)"
    corp="$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last" | cut -d' ' -f2 || true)"
    crashes=0
    if [ "$status" -ne 0 ] || grep -qE '^==[0-9]+==|panicked at|SUMMARY: libFuzzer|deadly signal' "$log"; then
        crashes=1
        failed+=("$target")
        echo "---- $target failed (exit $status); the end of its log:"
        tail -n 40 "$log"
        grep -E 'Test unit written to' "$log" || true
    fi
    line="$(printf '%-22s execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-12s crashes %s' \
        "$target" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")"
    echo "$line"
    summary+=("$line")
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
        mkdir -p "$FUZZ_KEEP_CORPUS/$target"
        cp -r "$corpus/." "$FUZZ_KEEP_CORPUS/$target/"
    fi
done

echo "== fuzzing summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
