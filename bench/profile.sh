#!/usr/bin/env bash
# Where stormlight's time and instructions go, next to the floor client and wrk.
#
# Usage: bench/profile.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, a new temp dir)
#
# Against a private nginx pinned to core 0 (as in bench/run.sh), each tool runs 10 users
# (connections), one thread, 2 s:
#   1. perf record (cpu-clock sampling; this VM has no hardware counters), stormlight only:
#      the top symbols, kernel included.
#   2. valgrind --tool=callgrind for stormlight, the floor and wrk: user-space instructions
#      per request (repeatable on a noisy machine) and stormlight's top functions.
# Valgrind 3.19 (Debian 12) refuses epoll_pwait2 (syscall 441); since commit 9748105 the
# loop then falls back to epoll_wait by itself (before it, a run under valgrind sent nothing).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT=${2:-}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
SECS=${PROFILE_SECONDS:-2}

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

BENCH_TMP=$(mktemp -d /tmp/sl-profile.XXXXXX)
[ -n "$OUT" ] || OUT="$BENCH_TMP/out"
mkdir -p "$OUT"
trap 'bench_stop_servers; rm -rf "$BENCH_TMP/nginx"' EXIT
trap 'exit 130' INT TERM

bench_start_nginx || exit 1
URL="http://127.0.0.1:$NGINX_PORT"
printf 'endpoints = { Task{"GET", "/hello"} }\n' >"$OUT/hello.lua"
SL=("$BUILD/stormlight" -f "$OUT/hello.lua" -H "$URL" -u 10 -r 1000000 -t "${SECS}s" --threads 1 -q)

requests_of() { # requests_of KIND FILE
    case "$1" in
    stormlight) python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"]["num_requests"])' "$2" ;;
    floor) sed -n 's/.*requests=\([0-9]*\).*/\1/p' "$2" ;;
    wrk) sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$2" ;;
    esac
}

echo "== perf record (cpu-clock), stormlight, 10 users, 1 thread, ${SECS} s, pinned to core $GEN_CPU =="
if command -v perf >/dev/null 2>&1 &&
    timeout -k 5 $((SECS + 30)) taskset -c "$GEN_CPU" perf record -q -e cpu-clock -g \
        -o "$OUT/perf.data" "${SL[@]}" --json "$OUT/perf.json" >/dev/null 2>"$OUT/perf.err"; then
    echo "requests: $(requests_of stormlight "$OUT/perf.json")"
    perf report -i "$OUT/perf.data" --stdio --no-children --sort dso,sym -g none \
        --percent-limit 1.5 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 30
    echo "-- by binary (user space vs kernel):"
    perf report -i "$OUT/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -n 8
else
    echo "perf record does not work here:"
    tail -n 3 "$OUT/perf.err"
fi

echo
echo "== callgrind: user-space instructions per request, 10 connections, ${SECS} s =="
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not installed (apt-get install valgrind)"
    exit 0
fi
cg() { # cg NAME CMD...: callgrind over CMD, bounded
    local name=$1
    shift
    timeout -k 5 $((SECS * 20 + 60)) valgrind --tool=callgrind \
        --callgrind-out-file="$OUT/cg.$name" "$@" >"$OUT/cg.$name.out" 2>"$OUT/cg.$name.err"
}

cg stormlight "${SL[@]}" --json "$OUT/cg.stormlight.json"
cg floor "$BUILD/sl_floor" 127.0.0.1 "$NGINX_PORT" /hello 10 "$SECS"
cg wrk wrk -t1 -c10 -d"${SECS}s" "$URL/hello"
# incl FILE REGEX: inclusive instructions of the first function matching REGEX.
incl() {
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null | grep -E "$2" | head -n 1 |
        sed 's/^ *\([0-9,]*\) .*/\1/' | tr -d ,
}
# The per-request figures count the event loop's work only (start-up, Lua and the final
# report excluded): the floor's main loop, stormlight's I/O callback, wrk's event loop.
for name in floor stormlight wrk; do
    case "$name" in
    stormlight)
        req=$(requests_of stormlight "$OUT/cg.stormlight.json")
        loop=$(incl "$OUT/cg.$name" 'worker\.c:worker_on_io ')
        parse=$(incl "$OUT/cg.$name" 'response\.c:sl_resp_feed ')
        ;;
    floor)
        req=$(requests_of floor "$OUT/cg.floor.out")
        loop=$(incl "$OUT/cg.$name" ':main ')
        parse=""
        ;;
    wrk)
        req=$(requests_of wrk "$OUT/cg.wrk.out")
        loop=$(incl "$OUT/cg.$name" ':aeProcessEvents ')
        parse=$(incl "$OUT/cg.$name" ':http_parser_execute ')
        ;;
    esac
    total=$(incl "$OUT/cg.$name" 'PROGRAM TOTALS')
    if [ -n "$total" ] && [ -n "$req" ] && [ "$req" -gt 0 ] && [ -n "$loop" ]; then
        printf '  %-10s %8d requests: %6d instructions per request in the loop' "$name" "$req" $((loop / req))
        [ -n "$parse" ] && printf ', %d of them parsing the response' $((parse / req))
        printf ' (whole process: %d per request)\n' $((total / req))
    else
        echo "  $name: no result (see $OUT/cg.$name.err)"
    fi
done

echo
echo "== callgrind_annotate: stormlight's top functions (self cost) =="
callgrind_annotate "$OUT/cg.stormlight" 2>/dev/null | sed -n '/^Ir/,$p' | grep -E '^ *[0-9,]+ \(' | head -n 25
echo
echo "== callgrind_annotate --inclusive=yes: stormlight, from the loop down =="
callgrind_annotate --inclusive=yes "$OUT/cg.stormlight" 2>/dev/null | grep -E '^ *[0-9,]+ \(' |
    grep -E 'sl_|worker|user_|llhttp|on_header|tcp_|send|read' | head -n 20
echo
echo "profiles kept in $OUT (perf report -i $OUT/perf.data; callgrind_annotate $OUT/cg.stormlight)"
