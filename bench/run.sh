#!/usr/bin/env bash
# `make bench`: stormlight side by side with wrk, the floor client and Locust (issue 3).
#
# Usage: bench/run.sh [BUILD_DIR]            (default: build)
#
# A private nginx (one worker) runs pinned to core SERVER_CPU; each generator runs alone,
# pinned to core GEN_CPU, under GNU time (user + system CPU and peak RSS of the whole
# process) and `timeout`. The figure compared is requests per CPU-second of the generator,
# and every ratio is taken between runs of the same invocation (wrk, floor and stormlight
# in rounds, each generator's median run kept), because this machine is shared and its
# absolute figures drift from minute to minute. Then: 19,000 users spawned at once, system
# calls per request (strace), memory per user (10 vs 10,000 users), timing overhead against
# sl_target's /delay/20, 1 vs 2 worker threads, and many statistics rows (issue 10: peak RSS
# for 1, 200 and 5,000 rows, 2,000 rows against one row, SIGTERM). Every run and every
# derived figure is appended to bench/results/results.tsv with a timestamp and the commit.
#
# Environment (all optional):
#   BENCH_SECONDS   length of the main, delay and thread runs (default 10)
#   BENCH_USERS     user counts of the main table (default "10 100")
#   BENCH_ROUNDS    rounds of wrk, floor and stormlight per user count; the table shows each
#                   generator's median run (default 3)
#   BENCH_PARTS     which parts to run (default "main syscalls memory spawn delay threads rows
#                   h2"); h2: stormlight --h2c beside h2load (nghttp2-client) against an
#                   h2c nginx, 10 connections x 1 stream and h2load's 10 x 10 streams
#   BENCH_ROWS_SECONDS   length of the many-rows memory runs (default 3)
#   BENCH_ROWS_CAP_MIB   address-space cap (prlimit --as) of every many-rows run, so a
#                   binary whose statistics grow with rows cannot take the machine's memory
#                   (default 8192)
#   BENCH_RESULTS   results file (default bench/results/results.tsv)
#   BENCH_COMMIT    the commit to record (default: git rev-parse --short HEAD)
#   SERVER_CPU, GEN_CPU   cores for the servers and the generators (default 0 and 1)
#   BENCH_KEEP_TMP  keep the temp dir (configs, raw outputs) and print where it is
#
# Only 127.0.0.1 is loaded; every run is bounded by its own duration and by `timeout`; the
# servers and runs this script starts are stopped by their own PID.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SL="$BUILD/stormlight"
FLOOR="$BUILD/sl_floor"
TARGET="$BUILD/sl_target"

SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
USERS_LIST=${BENCH_USERS:-"10 100"}
PARTS=${BENCH_PARTS:-"main syscalls memory spawn delay threads rows h2"}
ROWS_SECS=${BENCH_ROWS_SECONDS:-3}
ROWS_CAP_MIB=${BENCH_ROWS_CAP_MIB:-8192}
RESULTS=${BENCH_RESULTS:-"$ROOT/bench/results/results.tsv"}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
export SERVER_CPU GEN_CPU
PY=python3
HELPER="$HERE/bench.py"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

die() {
    echo "bench: $*" >&2
    exit 1
}

want() {
    case " $PARTS " in *" $1 "*) return 0 ;; esac
    return 1
}

for f in "$SL" "$FLOOR" "$TARGET"; do
    [ -x "$f" ] || die "$f not found; build first (make)"
done
for t in wrk taskset timeout prlimit "$NGINX_BIN" /usr/bin/time "$PY"; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (scripts/install-deps.sh bench)"
done
if [ "$(nproc)" -lt 2 ]; then
    echo "bench: only $(nproc) CPU online; generators and nginx share it, ratios still hold" >&2
    GEN_CPU=0
    SERVER_CPU=0
fi
if want syscalls && ! command -v strace >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "bench: installing strace"
        apt-get install -y -qq --no-install-recommends strace >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends strace >/dev/null; }
    fi
    command -v strace >/dev/null 2>&1 || echo "bench: strace missing (apt-get install strace); no syscall count" >&2
fi

# 10,000 and 19,000 connections need descriptors: use the hard limit, as stormlight does.
ulimit -n "$(ulimit -Hn)" 2>/dev/null

BENCH_TMP=$(mktemp -d /tmp/sl-bench.XXXXXX)
T="$BENCH_TMP"
ROWS="$T/rows.jsonl"
CUR_PID=""

cleanup() {
    # A run still going (Ctrl-C): stop its timeout (which passes the signal on), then time.
    if [ -n "$CUR_PID" ]; then
        local c
        for c in $(pgrep -P "$CUR_PID" 2>/dev/null); do
            kill -TERM "$c" 2>/dev/null
        done
        bench_stop_pid "$CUR_PID"
    fi
    bench_stop_servers
    if [ -n "${BENCH_KEEP_TMP:-}" ]; then
        echo "bench: raw outputs kept in $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The commit measured; "+dirty" when the engine's sources differ from it. BENCH_COMMIT
# names it for a tree exported with `git archive` (no .git to ask).
COMMIT=${BENCH_COMMIT:-}
if [ -z "$COMMIT" ]; then
    COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$ROOT" status --porcelain -- src bench/floor.c CMakeLists.txt 2>/dev/null)" ]; then
        COMMIT="$COMMIT+dirty"
    fi
fi

# measure NAME PIN LIMIT_S CMD...: runs CMD under GNU time and timeout (LIMIT_S seconds),
# pinned to GEN_CPU when PIN is "pin". Leaves $T/NAME.{out,err,time,rc,stat0,stat1}; .time
# holds user and system CPU seconds, peak RSS in KiB and wall seconds.
measure() {
    local name=$1 pin=$2 limit=$3
    shift 3
    local p="$T/$name" pre=()
    [ "$pin" = pin ] && pre=(taskset -c "$GEN_CPU")
    time_wait >"$p.tw"
    nginx_ticks >"$p.ngx0"
    cat /proc/stat >"$p.stat0"
    /usr/bin/time -o "$p.time" -f '%U %S %M %e' timeout -k 5 "$limit" "${pre[@]}" "$@" \
        </dev/null >"$p.out" 2>"$p.err" &
    CUR_PID=$!
    wait "$CUR_PID"
    echo $? >"$p.rc"
    CUR_PID=""
    cat /proc/stat >"$p.stat1"
    nginx_ticks >"$p.ngx1"
    sleep 1 # let nginx and the kernel settle (closed sockets) before the next run
}

# Sockets in TIME_WAIT on the machine: each holds a local port, and when the ephemeral
# range is crowded, connect() spends long in the kernel's port search.
time_wait() {
    ss -Htan state time-wait 2>/dev/null | wc -l
}

# CPU time of nginx's worker so far, in clock ticks (utime + stime from /proc/PID/stat), to
# tell nginx's share of core SERVER_CPU from other processes'.
nginx_ticks() {
    local pid sum=0 f=()
    for pid in $(pgrep -P "$NGINX_PID" 2>/dev/null); do
        # Fields after "PID (comm) ": state is the 1st, utime the 12th, stime the 13th.
        read -r -a f <<<"$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
        [ "${#f[@]}" -gt 12 ] && sum=$((sum + f[11] + f[12]))
    done
    echo "$sum $(getconf CLK_TCK)"
}

# record KIND NAME key=value...: parses the files of run NAME into one row.
record() {
    local kind=$1 name=$2
    shift 2
    "$PY" "$HELPER" record "$ROWS" "$kind" "$T/$name" "$@"
}

scenario() { # scenario FILE PATH: a one-task scenario file
    printf 'endpoints = { Task{"GET", "%s"} }\n' "$2" >"$1"
}

echo "stormlight bench  commit $COMMIT  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), \
kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //'), \
locust $(dpkg-query -W -f='${Version}' python3-locust 2>/dev/null || echo missing), \
stormlight build type $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)"
echo "pinning: servers on core $SERVER_CPU, generators on core $GEN_CPU; runs of ${SECS} s"

bench_start_nginx || exit 1
URL="http://127.0.0.1:$NGINX_PORT"
scenario "$T/hello.lua" /hello
printf 'User{ tasks = { function(u) u:get("/hello") end } }\n' >"$T/hello_lua.lua"
cat >"$T/locustfile.py" <<'EOF'
from locust import FastHttpUser, task


class Hello(FastHttpUser):
    @task
    def hello(self):
        self.client.get("/hello")
EOF

LIMIT=$((SECS + 30))

if want main; then
    echo
    echo "-- each generator alone, pinned, ${SECS} s; $ROUNDS rounds of wrk, floor, stormlight"
    for n in $USERS_LIST; do
        for r in $(seq 1 "$ROUNDS"); do
            measure "wrk_${n}_$r" pin "$LIMIT" wrk -t1 -c"$n" -d"${SECS}s" --latency "$URL/hello"
            record wrk "wrk_${n}_$r" test=main generator=wrk users="$n" threads=1 round="$r" \
                seconds="$SECS"

            measure "floor_${n}_$r" pin "$LIMIT" "$FLOOR" 127.0.0.1 "$NGINX_PORT" /hello "$n" "$SECS"
            record floor "floor_${n}_$r" test=main generator=floor users="$n" threads=1 round="$r" \
                seconds="$SECS"

            measure "sl_${n}_$r" pin "$LIMIT" "$SL" -f "$T/hello.lua" -H "$URL" -u "$n" \
                -r 1000000 -t "${SECS}s" --threads 1 -q --json "$T/sl_${n}_$r.json"
            record stormlight "sl_${n}_$r" test=main generator=stormlight users="$n" threads=1 \
                round="$r" seconds="$SECS"
        done

        # The scripted path (issue 5): one u:get per iteration, run in Lua coroutines.
        measure "sl_lua_$n" pin "$LIMIT" "$SL" -f "$T/hello_lua.lua" -H "$URL" -u "$n" \
            -r 1000000 -t "${SECS}s" --threads 1 -q --json "$T/sl_lua_$n.json"
        record stormlight-lua "sl_lua_$n" test=main generator=stormlight-lua users="$n" threads=1 \
            round=1 seconds="$SECS"

        # Locust is two orders of magnitude behind: one run is enough to place it.
        if command -v locust >/dev/null 2>&1; then
            measure "locust_$n" pin "$LIMIT" locust -f "$T/locustfile.py" --headless -u "$n" \
                -r "$n" -t "${SECS}s" --host "$URL" --csv "$T/locust_$n" --only-summary
        else
            echo "locust not installed (apt-get install python3-locust)" >"$T/locust_$n.err"
        fi
        record locust "locust_$n" test=main generator=locust users="$n" threads=1 round=1 \
            seconds="$SECS"
    done
fi

if want spawn; then
    echo
    echo "-- many users: 19,000 spawned at once, default threads, 6 s"
    # The live view goes through a pipe that stamps each line with its arrival time.
    p="$T/spawn"
    time_wait >"$p.tw"
    cat /proc/stat >"$p.stat0"
    "$PY" "$HELPER" stamp "$p.stamped" -- /usr/bin/time -o "$p.time" -f '%U %S %M' \
        timeout -k 5 60 "$SL" -f "$T/hello.lua" -H "$URL" -u 19000 -r 1000000 -t 6s \
        --json "$p.json" </dev/null 2>"$p.err" &
    CUR_PID=$!
    wait "$CUR_PID"
    echo $? >"$p.rc"
    CUR_PID=""
    cat /proc/stat >"$p.stat1"
    record stormlight spawn test=spawn generator=stormlight users=19000 seconds=6
    sleep 1
fi

if want syscalls && command -v strace >/dev/null 2>&1; then
    echo
    echo "-- system calls per request: strace -f -c, 10 users, 3 s"
    measure sys_sl nopin 60 strace -f -c -o "$T/sys_sl.strace" "$SL" -f "$T/hello.lua" -H "$URL" \
        -u 10 -r 1000000 -t 3s --threads 1 -q --json "$T/sys_sl.json"
    record stormlight sys_sl test=syscalls generator=stormlight users=10 threads=1 seconds=3
    measure sys_floor nopin 60 strace -f -c -o "$T/sys_floor.strace" "$FLOOR" 127.0.0.1 \
        "$NGINX_PORT" /hello 10 3
    record floor sys_floor test=syscalls generator=floor users=10 threads=1 seconds=3
    measure sys_wrk nopin 60 strace -f -c -o "$T/sys_wrk.strace" wrk -t1 -c10 -d3s "$URL/hello"
    record wrk sys_wrk test=syscalls generator=wrk users=10 threads=1 seconds=3
fi

if want memory; then
    echo
    echo "-- memory: peak RSS at 10 and 10,000 keep-alive users, 1 thread, 5 s"
    for n in 10 10000; do
        measure "mem_sl_$n" pin 60 "$SL" -f "$T/hello.lua" -H "$URL" -u "$n" -r 1000000 -t 5s \
            --threads 1 -q --json "$T/mem_sl_$n.json"
        record stormlight "mem_sl_$n" test=memory generator=stormlight users="$n" threads=1 seconds=5
    done
    for n in 10 10000; do
        measure "mem_lua_$n" pin 60 "$SL" -f "$T/hello_lua.lua" -H "$URL" -u "$n" -r 1000000 \
            -t 5s --threads 1 -q --json "$T/mem_lua_$n.json"
        record stormlight-lua "mem_lua_$n" test=memory generator=stormlight-lua users="$n" \
            threads=1 seconds=5
    done
    for n in 10 10000; do
        measure "mem_wrk_$n" pin 60 wrk -t1 -c"$n" -d5s "$URL/hello"
        record wrk "mem_wrk_$n" test=memory generator=wrk users="$n" threads=1 seconds=5
    done
fi

if want delay; then
    echo
    echo "-- timing overhead: sl_target /delay/20, 10 connections, ${SECS} s"
    if bench_start_target "$TARGET"; then
        scenario "$T/delay.lua" /delay/20
        measure delay_floor pin "$LIMIT" "$FLOOR" 127.0.0.1 "$TARGET_PORT" /delay/20 10 "$SECS"
        record floor delay_floor test=delay generator=floor users=10 threads=1 seconds="$SECS"
        measure delay_sl pin "$LIMIT" "$SL" -f "$T/delay.lua" -H "http://127.0.0.1:$TARGET_PORT" \
            -u 10 -r 1000000 -t "${SECS}s" --threads 1 -q --json "$T/delay_sl.json"
        record stormlight delay_sl test=delay generator=stormlight users=10 threads=1 seconds="$SECS"
        bench_stop_pid "$TARGET_PID"
        TARGET_PID=""
    fi
fi

if want threads; then
    echo
    echo "-- threads: 100 users, --threads 1 and 2, not pinned, ${SECS} s"
    for k in 1 2; do
        measure "thr_$k" nopin "$LIMIT" "$SL" -f "$T/hello.lua" -H "$URL" -u 100 -r 1000000 \
            -t "${SECS}s" --threads "$k" -q --json "$T/thr_$k.json"
        record stormlight "thr_$k" test=threads generator=stormlight users=100 threads="$k" seconds="$SECS"
    done
fi

# rows_scenarios DIR: the many-rows scenarios (issue 10). rows1: one Task{} row; rowsN: N
# Task{} rows with distinct names on the same path; lua1: one scripted row; names5000: a
# scripted task whose path carries a random id and no name=, so each id becomes its own row.
rows_scenarios() {
    local dir=$1 n i
    scenario "$dir/rows1.lua" /hello
    for n in 200 2000; do
        {
            echo "endpoints = {"
            for i in $(seq 1 "$n"); do
                printf '  Task{"GET", "/hello", name = "row %04d"},\n' "$i"
            done
            echo "}"
        } >"$dir/rows$n.lua"
    done
    printf 'User{ tasks = { function(u) u:get("/hello") end } }\n' >"$dir/lua1.lua"
    printf 'User{ tasks = { function(u) u:get("/hello?id=" .. math.random(1, 5000)) end } }\n' \
        >"$dir/names5000.lua"
}

if want rows; then
    echo
    echo "-- many rows: peak RSS for 1, 200 and 5,000 rows at --threads 1, 2, 8; 8 users, \
${ROWS_SECS} s, not pinned; each run capped at ${ROWS_CAP_MIB} MiB of address space"
    rows_scenarios "$T"
    # The cap: statistics that grow with rows, threads and names must fail this run, not the
    # machine. prlimit execs the command, so the limit applies to stormlight itself.
    CAP=(prlimit --as=$((ROWS_CAP_MIB * 1024 * 1024)))
    ROWS_LIMIT=$((ROWS_SECS + 30))
    # --max-rows (issue 10) caps the rows; names past it share one overflow row. A binary
    # without the flag runs the 5,000-name scenario with whatever it does by default.
    variants=("1 rows1" "200 rows200" "1 lua1" "5000 names5000")
    if "$SL" --help 2>/dev/null | grep -q -- --max-rows; then
        variants+=("5000 names5000 10000")
    else
        echo "   (this binary has no --max-rows: the 5,000-name runs use its default only)"
    fi
    for v in "${variants[@]}"; do
        read -r n file maxr <<<"$v"
        extra=()
        [ -n "$maxr" ] && extra=(--max-rows "$maxr")
        for k in 1 2 8; do
            name="rows_${file}_${k}${maxr:+_m$maxr}"
            measure "$name" nopin "$ROWS_LIMIT" "${CAP[@]}" "$SL" -f "$T/$file.lua" -H "$URL" -u 8 \
                -r 1000000 -t "${ROWS_SECS}s" --threads "$k" -q "${extra[@]}" --json "$T/$name.json"
            record stormlight "$name" test=rows generator=stormlight users=8 threads="$k" \
                seconds="$ROWS_SECS" rows="$n" scenario="$file" max_rows="${maxr:-default}" \
                cap_mib="$ROWS_CAP_MIB"
        done
    done

    # Every request accounted for, against a server that counts what it served.
    echo
    echo "-- many rows against sl_target: 5,000 names, 8 users, --threads 2, ${ROWS_SECS} s"
    if bench_start_target "$TARGET"; then
        TURL="http://127.0.0.1:$TARGET_PORT"
        "$PY" "$HELPER" fetch "$TURL/__reset" "$T/recon.reset"
        measure recon nopin "$ROWS_LIMIT" "${CAP[@]}" "$SL" -f "$T/names5000.lua" -H "$TURL" \
            -u 8 -r 1000000 -t "${ROWS_SECS}s" --threads 2 -q --json "$T/recon.json"
        "$PY" "$HELPER" fetch "$TURL/__stats" "$T/recon.server"
        record stormlight recon test=rows-reconcile generator=stormlight users=8 threads=2 \
            seconds="$ROWS_SECS" rows=5000 scenario=names5000 max_rows=default \
            cap_mib="$ROWS_CAP_MIB"
        bench_stop_pid "$TARGET_PID"
        TARGET_PID=""
    fi

    # Side by side, in rounds: the same invocation with 2,000 Task{} rows and with one.
    echo
    echo "-- 2,000 rows against 1 row: 8 users, --threads 8, ${SECS} s, not pinned; $ROUNDS rounds"
    for r in $(seq 1 "$ROUNDS"); do
        for n in 1 2000; do
            measure "tput_${n}_$r" nopin "$LIMIT" "${CAP[@]}" "$SL" -f "$T/rows$n.lua" -H "$URL" \
                -u 8 -r 1000000 -t "${SECS}s" --threads 8 -q --json "$T/tput_${n}_$r.json"
            record stormlight "tput_${n}_$r" test=rows-tput generator=stormlight users=8 threads=8 \
                round="$r" seconds="$SECS" rows="$n" scenario="rows$n" cap_mib="$ROWS_CAP_MIB"
        done
    done

    # Not a test: how long a loaded 2,000-row run takes to stop once signalled.
    echo
    echo "-- SIGTERM: 2,000 rows, 8 users, --threads 8, -t 60s, SIGTERM after 2 s"
    "$PY" "$HELPER" sigterm "$T/sigterm" 2 15 -- "${CAP[@]}" "$SL" -f "$T/rows2000.lua" -H "$URL" \
        -u 8 -r 1000000 -t 60s --threads 8 -q --json "$T/sigterm.json" &
    CUR_PID=$!
    wait "$CUR_PID"
    CUR_PID=""
    record stormlight sigterm test=rows-sigterm generator=stormlight users=8 threads=8 \
        seconds=60 rows=2000 scenario=rows2000 cap_mib="$ROWS_CAP_MIB"
    sleep 1
fi

if want h2; then
    # HTTP/2 (issue 15): requests per CPU-second, same target for both generators. h2load
    # -m10 multiplexes 10 streams on each of 10 connections; stormlight has no stream
    # sharing yet (--h2-max-streams), so its row at that concurrency is 100 users, each
    # on its own connection with one stream at a time.
    echo
    if ! command -v h2load >/dev/null 2>&1; then
        echo "-- HTTP/2: h2load not found (scripts/install-deps.sh bench: nghttp2-client)"
    elif bench_start_h2_nginx; then
        H2URL="http://127.0.0.1:$H2_NGINX_PORT"
        echo "-- HTTP/2 (h2c nginx on core $SERVER_CPU): stormlight --h2c beside h2load, ${SECS} s"
        measure h2load_10x1 pin "$LIMIT" h2load -t1 -c10 -m1 -D "$SECS" "$H2URL/hello"
        record h2load h2load_10x1 test=h2 generator=h2load users=10 streams=1 threads=1 \
            seconds="$SECS"
        measure sl_h2_10x1 pin "$LIMIT" "$SL" -f "$T/hello.lua" -H "$H2URL" --h2c -u 10 \
            -r 1000000 -t "${SECS}s" --threads 1 -q --json "$T/sl_h2_10x1.json"
        record stormlight sl_h2_10x1 test=h2 generator=stormlight users=10 streams=1 threads=1 \
            seconds="$SECS"
        measure h2load_10x10 pin "$LIMIT" h2load -t1 -c10 -m10 -D "$SECS" "$H2URL/hello"
        record h2load h2load_10x10 test=h2 generator=h2load users=10 streams=10 threads=1 \
            seconds="$SECS"
        measure sl_h2_100x1 pin "$LIMIT" "$SL" -f "$T/hello.lua" -H "$H2URL" --h2c -u 100 \
            -r 1000000 -t "${SECS}s" --threads 1 -q --json "$T/sl_h2_100x1.json"
        record stormlight sl_h2_100x1 test=h2 generator=stormlight users=100 streams=1 \
            threads=1 seconds="$SECS"
    fi
fi

bench_stop_servers
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$HELPER" report "$ROWS" "$RESULTS" "$COMMIT"
