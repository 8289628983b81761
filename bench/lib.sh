# shellcheck shell=bash
# Shared helpers for bench/run.sh and bench/profile.sh (sourced, not run).
#
# Starts the servers the benchmarks load: a private nginx and the project's own sl_target,
# both on 127.0.0.1, both pinned to one core, both stopped by their own PID. The caller sets
# BENCH_TMP (a private temp dir) and SERVER_CPU before calling, and calls bench_stop_servers
# from its EXIT trap.

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
NGINX_PID=""
NGINX_PORT=""
TARGET_PID=""
TARGET_PORT=""

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
bench_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts connections (at most 5 s); fails if PID $2 has exited.
bench_wait_port() {
    local port=$1 pid=$2
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# Starts nginx with one worker pinned to core SERVER_CPU: access log off, keep-alive
# without a request limit, room for 20,000 connections, GET /hello answering a small JSON
# document. Sets NGINX_PID (the master, which stops its worker) and NGINX_PORT.
bench_start_nginx() {
    local dir="$BENCH_TMP/nginx"
    mkdir -p "$dir"
    NGINX_PORT=$(bench_free_port)
    # The worker may hold 20,000 descriptors (the 19,000-user test), never more than the
    # hard limit: raising it needs a privilege containers often drop.
    local nofile
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=65536
    [ "$nofile" -gt 40000 ] && nofile=40000
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile $nofile;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=20000;
        location = /hello {
            default_type application/json;
            return 200 '{"hello":"world"}';
        }
    }
}
EOF
    # taskset execs nginx, so $! is the nginx master; its worker inherits the affinity.
    taskset -c "$SERVER_CPU" "$NGINX_BIN" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" \
        </dev/null >"$dir/stdout" 2>&1 &
    NGINX_PID=$!
    if ! bench_wait_port "$NGINX_PORT" "$NGINX_PID"; then
        echo "bench: nginx did not start on 127.0.0.1:$NGINX_PORT:" >&2
        cat "$dir/error.log" "$dir/stdout" >&2 2>/dev/null
        return 1
    fi
}

# Starts build/sl_target pinned to core SERVER_CPU on an ephemeral port. Sets TARGET_PID
# and TARGET_PORT (from the 'PORT <n>' line it prints once listening).
bench_start_target() {
    local bin=$1 out="$BENCH_TMP/target.out"
    taskset -c "$SERVER_CPU" "$bin" --port 0 </dev/null >"$out" 2>"$BENCH_TMP/target.err" &
    TARGET_PID=$!
    for _ in $(seq 1 100); do
        TARGET_PORT=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
        [ -n "$TARGET_PORT" ] && return 0
        kill -0 "$TARGET_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: sl_target did not print its port" >&2
    cat "$BENCH_TMP/target.err" >&2
    return 1
}

# Stops PID $1 (a child of this shell): SIGTERM, then SIGKILL after 5 s.
bench_stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

bench_stop_servers() {
    bench_stop_pid "$NGINX_PID"
    NGINX_PID=""
    bench_stop_pid "$TARGET_PID"
    TARGET_PID=""
    bench_stop_pid "${H2_NGINX_PID:-}"
    H2_NGINX_PID=""
}

# Starts a second private nginx speaking cleartext HTTP/2 (h2c, prior knowledge) with the
# same /hello, pinned to core SERVER_CPU, for the HTTP/2 rows (stormlight --h2c beside
# h2load on the same target). Sets H2_NGINX_PID and H2_NGINX_PORT.
bench_start_h2_nginx() {
    local dir="$BENCH_TMP/nginx-h2"
    mkdir -p "$dir"
    H2_NGINX_PORT=$(bench_free_port)
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    http2_max_concurrent_streams 128;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$H2_NGINX_PORT http2 backlog=4096;
        location = /hello {
            default_type application/json;
            return 200 '{"hello":"world"}';
        }
    }
}
CONF
    taskset -c "$SERVER_CPU" "$NGINX_BIN" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" \
        </dev/null >"$dir/stdout" 2>&1 &
    H2_NGINX_PID=$!
    if ! bench_wait_port "$H2_NGINX_PORT" "$H2_NGINX_PID"; then
        echo "bench: the h2c nginx did not start on 127.0.0.1:$H2_NGINX_PORT:" >&2
        cat "$dir/error.log" "$dir/stdout" >&2 2>/dev/null
        return 1
    fi
}
