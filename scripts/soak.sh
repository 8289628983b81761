#!/usr/bin/env bash
# Soak test: steady load with a fault mix for a long time, sampling the generator's RSS.
#
# Usage: scripts/soak.sh [DURATION_S [SAMPLE_S]]     (defaults: 1800 s, 60 s)
#
# Two stormlight processes run side by side, because a run has one host:
#   nginx   against a private nginx on 127.0.0.1: 95% GET /hello, 5% GET /status/503;
#   faults  against the project's sl_target: 95% fast 200s, 5% spread over every fault
#           (resets, truncations, garbage, bad chunks, oversized headers, hangs, drips),
#           with --timeout 2s so hangs and drips end in counted timeouts.
# Every SAMPLE_S seconds the script reads VmRSS from /proc/PID/status of both processes.
# At the end it prints the samples, each run's totals from its JSON summary, and per
# process the largest deviation of RSS after warm-up (the first SOAK_WARMUP samples) from
# the first sample after warm-up, in percent. It exits 0 when both runs ended normally
# (exit 0 or 1) and both deviations are within SOAK_MAX_DEV_PCT (default 1).
#
# Environment: SL_BIN, SL_TARGET (default build/stormlight, build/sl_target), SOAK_USERS
# (per process, default 8), SOAK_WARMUP (default 2), SOAK_MAX_DEV_PCT (default 1),
# SOAK_DIR (work directory, default a fresh temp dir, kept). Everything runs on
# 127.0.0.1 at nice 19, so a soak on a shared machine yields to other work.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
duration_s="${1:-1800}"
sample_s="${2:-60}"
users="${SOAK_USERS:-8}"
warmup="${SOAK_WARMUP:-2}"
max_dev="${SOAK_MAX_DEV_PCT:-1}"
sl_bin="${SL_BIN:-$repo/build/stormlight}"
sl_target="${SL_TARGET:-$repo/build/sl_target}"
nginx=/usr/sbin/nginx

for f in "$sl_bin" "$sl_target" "$nginx"; do
    [ -x "$f" ] || { echo "soak: $f not found or not executable (run make first)" >&2; exit 2; }
done
case "$duration_s$sample_s" in
*[!0-9]*) echo "soak: DURATION_S and SAMPLE_S are whole seconds" >&2; exit 2 ;;
esac
[ "$sample_s" -ge 1 ] && [ "$duration_s" -ge "$sample_s" ] ||
    { echo "soak: need 1 <= SAMPLE_S <= DURATION_S" >&2; exit 2; }

dir="${SOAK_DIR:-$(mktemp -d /tmp/sl-soak.XXXXXX)}"
mkdir -p "$dir"
# Private copies: a rebuild during a long soak must not change what runs.
cp "$sl_bin" "$dir/stormlight"
cp "$sl_target" "$dir/sl_target"

pids=()
nginx_pid=
cleanup() {
    # Only what this script started, by PID; SIGQUIT is nginx's graceful shutdown.
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    [ -z "$nginx_pid" ] || kill -QUIT "$nginx_pid" 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "soak: nothing listening on 127.0.0.1:$port" >&2
    return 1
}

# nginx, in the style of tests/e2e/harness.py: its own prefix, logs and temp paths.
nport="$(free_port)"
mkdir -p "$dir/nginx"
cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/nginx/client_body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$nport;
        location = /hello { default_type application/json; return 200 '{"hello":"world"}'; }
        location = /status/503 { return 503; }
        location / { return 404; }
    }
}
EOF
nice -n 19 "$nginx" -c "$dir/nginx/nginx.conf" -p "$dir/nginx/" -e "$dir/nginx/error.log" \
    </dev/null >/dev/null 2>&1 &
nginx_pid=$!
wait_port "$nport"

# sl_target prints "PORT n" once listening.
nice -n 19 "$dir/sl_target" --port 0 </dev/null >"$dir/target.out" 2>"$dir/target.err" &
pids+=($!)
for i in $(seq 1 100); do
    grep -q '^PORT ' "$dir/target.out" 2>/dev/null && break
    sleep 0.05
done
tport="$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$dir/target.out")"
[ -n "$tport" ] || { echo "soak: sl_target did not start" >&2; exit 1; }

mkdir -p "$dir/nginx-run" "$dir/faults-run"
cat >"$dir/nginx-run/stormlight_file.lua" <<'EOF'
endpoints = {
  Task{"GET", "/hello", weight = 95},
  Task{"GET", "/status/503", weight = 5},
}
EOF
# 95% plain 200s (some after a short delay, so the load is steady rather than a spin),
# 5% faults: the same weight for each of the eleven fault kinds. A POST that follows
# /idle-close on the same connection fails as "closed" by design: only idempotent
# requests are retried.
cat >"$dir/faults-run/stormlight_file.lua" <<'EOF'
local faults = {"reset", "reset-mid", "close", "short", "badstatus", "garbage",
                "badchunk", "truncchunk", "bigheader", "hang", "drip"}
endpoints = {
  Task{"GET", "/", weight = 1045},
  Task{"GET", "/delay/2", name = "/delay", weight = 1045},
  Task{"POST", "/", data = {soak = true, n = 1}, weight = 1045},
  Task{"GET", "/chunked?n=20", name = "/chunked", weight = 1045},
  Task{"GET", "/idle-close", weight = 1045},
}
for _, f in ipairs(faults) do
  endpoints[#endpoints + 1] = Task{"GET", "/fault/" .. f, weight = 25}
end
EOF

# Runs in a background subshell that becomes stormlight itself, so $! is its PID.
run() { # name host
    cd "$dir/$1-run"
    exec nice -n 19 "$dir/stormlight" -H "$2" -u "$users" -r "$users" -t "${duration_s}s" \
        --threads 1 --timeout 2s -q --seed 1 --json "$dir/$1-run/summary.json" \
        </dev/null >"$dir/$1-run/stdout" 2>"$dir/$1-run/stderr"
}
run nginx "http://127.0.0.1:$nport" &
npid=$!
pids+=($npid)
run faults "http://127.0.0.1:$tport" &
fpid=$!
pids+=($fpid)

rss_kb() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status" 2>/dev/null || true
}

echo "soak: ${duration_s}s, a sample every ${sample_s}s, $users users per process, in $dir"
printf '%8s %12s %12s\n' "t_s" "nginx_kB" "faults_kB" | tee "$dir/samples.txt"
t0=$(date +%s)
next=$sample_s
while kill -0 "$npid" 2>/dev/null || kill -0 "$fpid" 2>/dev/null; do
    now=$(($(date +%s) - t0))
    if [ "$now" -ge "$next" ]; then
        a="$(rss_kb "$npid")"
        b="$(rss_kb "$fpid")"
        # Only samples taken while both still run count (the last one may miss).
        if [ -n "$a" ] && [ -n "$b" ]; then
            printf '%8d %12s %12s\n' "$now" "$a" "$b" | tee -a "$dir/samples.txt"
        fi
        next=$((next + sample_s))
    fi
    sleep 1
done
set +e
wait "$npid"
ncode=$?
wait "$fpid"
fcode=$?
set -e

python3 - "$dir" "$warmup" "$max_dev" "$ncode" "$fcode" <<'EOF'
import json, os, sys
d, warmup, max_dev = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
codes = {"nginx": int(sys.argv[4]), "faults": int(sys.argv[5])}
rows = []
with open(os.path.join(d, "samples.txt")) as f:
    next(f)
    for line in f:
        t, a, b = line.split()
        rows.append((int(t), int(a), int(b)))
ok = True
for i, name in enumerate(["nginx", "faults"]):
    code = codes[name]
    print(f"\n[{name}] exit code {code}")
    if code not in (0, 1):
        ok = False
    try:
        with open(os.path.join(d, f"{name}-run", "summary.json")) as f:
            s = json.load(f)
        t = s["total"]
        print(f"  requests {t['num_requests']}, failures {t['num_failures']}, "
              f"rps {t['rps']:.0f}, in_flight_at_stop {s['in_flight_at_stop']}, "
              f"retries {s['retries']}, duration {s['duration_s']:.0f}s")
        for e in sorted(s["errors"], key=lambda e: -e["occurrences"])[:12]:
            print(f"    {e['occurrences']:>9}  {e['method']} {e['name']}: {e['error']}")
    except (OSError, ValueError, KeyError) as e:
        print(f"  no summary: {e}")
        ok = False
    samples = [r[1 + i] for r in rows]
    steady = samples[warmup:]
    if not steady:
        print(f"  not enough samples ({len(samples)}, warm-up {warmup})")
        ok = False
        continue
    base = steady[0]
    dev = max(abs(x - base) for x in steady) * 100.0 / base
    spread = (max(steady) - min(steady)) * 100.0 / min(steady)
    # Least-squares slope: a leak shows as a steady climb, allocator noise as steps.
    ts = [r[0] for r in rows][warmup:]
    slope = 0.0
    if len(steady) > 1:
        mt, ms = sum(ts) / len(ts), sum(steady) / len(steady)
        den = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (x - ms) for t, x in zip(ts, steady)) / den * 60 if den else 0.0
    print(f"  RSS kB: warm-up {samples[:warmup]}, after: min {min(steady)} max {max(steady)} "
          f"({len(steady)} samples)")
    print(f"  max deviation after warm-up: {dev:.2f}% (spread {spread:.2f}%), "
          f"limit {max_dev}%; trend {slope:+.2f} kB/min")
    if dev > max_dev:
        ok = False
print("\nsoak: " + ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
EOF
