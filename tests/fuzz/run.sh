#!/usr/bin/env bash
# Runs the libFuzzer targets built in BUILD_DIR for SECONDS each, starting from the seed
# corpora in tests/fuzz/corpus/<target>/ (read only: new inputs go to
# BUILD_DIR/corpus/<target>/, crashes to BUILD_DIR/artifacts/).
#
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (default: every fuzz_*.c)
# Extra libFuzzer flags for every target may be given in FUZZ_FLAGS (e.g. -runs=10000000).
# Exits 1 when any target found a crash, a leak or a broken invariant.
#
# fuzz_scenario runs arbitrary Lua, so it runs in fork mode, where an input that only
# allocates too much or spins inside one C library call (string.rep, a pathological
# pattern) is noted and skipped rather than stopping the run; a crash still stops it.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}"
secs="${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}"
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do
        targets+=("$(basename "$f" .c)")
    done
fi

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
    bin="$build/$t"
    [ -x "$bin" ] || { echo "fuzz: $bin not built" >&2; status=1; continue; }
    mkdir -p "$build/corpus/$t"
    flags=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-")
    case "$t" in
    fuzz_response) flags+=(-dict="$here/http.dict") ;;
    fuzz_scenario)
        flags+=(-dict="$here/lua.dict" -max_len=4096 -timeout=10 -rss_limit_mb=2048
            -malloc_limit_mb=512 -fork=1 -ignore_ooms=1 -ignore_timeouts=1 -ignore_crashes=0)
        ;;
    fuzz_url) flags+=(-max_len=2048) ;;
    fuzz_h2) flags+=(-max_len=8192) ;;
    fuzz_duration) flags+=(-max_len=256) ;;
    esac
    echo "fuzz: $t for ${secs}s"
    # shellcheck disable=SC2086
    "$bin" "${flags[@]}" ${FUZZ_FLAGS:-} "$build/corpus/$t" "$here/corpus/$t" \
        >"$build/$t.log" 2>&1
    rc=$?
    # The last status line: "#N DONE ..." (or "#N: cov: ... exec/s ..." in fork mode).
    grep -E '^#[0-9]+(:|[[:space:]]+DONE)' "$build/$t.log" | tail -1
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$build/$t.log" || true
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc); the end of $build/$t.log:" >&2
        tail -40 "$build/$t.log" >&2
        status=1
    fi
done
exit $status
