"""HTTP/2 end to end, against real servers: nginx with `http2` over TLS (h2 by ALPN),
Debian's nghttpd for cleartext h2c, and a small raw-frame server written here for the
protocol's edges (RST_STREAM, REFUSED_STREAM, GOAWAY, a protocol error).

Counts reconcile exactly with what the server logged (--iterations makes them exact), the
server's log says HTTP/2.0, the JSON says "protocol": "h2"; a server that declines h2
is spoken to in HTTP/1.1 and the summary says so; GOAWAY mid-run (nginx's
keepalive_requests) loses nothing; the same User{} scenario (cookies, a redirect) passes
over h2; each edge is its own failure category, and a stream above a GOAWAY's last id
is retried and counted in `retries`."""

import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
import shutil

import harness
from harness import check, check_eq, check_summary, find_row, run_stormlight
from test_tls import make_cert

BIG = 1024 * 1024 + 7

CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format sl '$server_protocol $request_method $uri $status';
    access_log {dir}/access.log sl;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests @KR@;
    server {{
        listen 127.0.0.1:{port} ssl @H2@;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        location = /a {{ return 200 'aaaa'; }}
        location = /big {{ alias {dir}/big.bin; }}
        location = /login {{
            add_header Set-Cookie "session=s42; Path=/";
            return 200 '{{"ok":true}}';
        }}
        location = /private {{
            if ($cookie_session = "s42") {{ return 200 'yes'; }}
            return 403;
        }}
        location = /redirect {{ return 302 /a; }}
    }}
}}
"""


def prepare(d):
    make_cert(d)
    with open(os.path.join(d, "big.bin"), "wb") as f:
        f.write(os.urandom(BIG))
    # nginx's workers may run as another user: let them read the body.
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "big.bin"), 0o644)


def H2Nginx(http2=True, keepalive_requests=1000000):
    conf = CONF.replace("@KR@", str(keepalive_requests)).replace("@H2@", "http2" if http2 else "")
    return harness.Nginx(conf=conf, scheme="https", prepare=prepare)


def log_lines(n):
    n.counts()  # waits for the log to settle
    with open(n.access_log) as f:
        return [line.split() for line in f if line.strip()]


def per_path(lines):
    out = {}
    for proto, method, uri, status in lines:
        out[f"{method} {uri}"] = out.get(f"{method} {uri}", 0) + 1
    return out


TASKS = """\
endpoints = {
  Task{"GET", "/a", weight = 3},
  Task{"GET", "/big"},
}
"""


def test_h2_over_tls_reconciles_with_the_access_log():
    with H2Nginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "--http2", "--insecure", "-u", "4", "-r", "100", "--iterations",
             "400", "--threads", "2"], TASKS)
        lines = log_lines(n)
    check_eq(code, 0, f"exit code ({err[-500:]})")
    check_summary(s)
    check_eq(s["protocol"], "h2", "JSON protocol")
    check_eq(s["connections"]["h2"], 4, "one connection per user")
    check_eq(s["connections"]["http/1.1"], 0, "no HTTP/1.1 connection")
    check_eq({p for p, *_ in lines}, {"HTTP/2.0"}, "the server logged HTTP/2 only")
    served = per_path(lines)
    a, big = find_row(s, "GET", "/a"), find_row(s, "GET", "/big")
    check_eq(a["num_requests"] + big["num_requests"], 400, "--iterations")
    check_eq(served.get("GET /a", 0), a["num_requests"], "GET /a: server vs tool")
    check_eq(served.get("GET /big", 0), big["num_requests"], "GET /big: server vs tool")
    check_eq(s["total"]["num_failures"], 0, f"failures: {s['errors']}")
    check_eq(big["avg_content_bytes"], BIG, "every byte of the large body (flow control)")
    check_eq(a["avg_content_bytes"], 4, "small body")
    check("Protocol: h2" in out, f"the summary names the protocol:\n{out[-800:]}")
    # Timing phases over HTTP/2: four new connections (one per user, with a TLS handshake),
    # every other stream on a reused one, waiting and receiving measured for each.
    ph = s["total"]["phases_ms"]
    check_eq(ph["new_connections"], 4, "phases: new connections")
    check_eq(ph["reused_connections"], 396, "phases: reused connections")
    check(ph["tls_handshaking"]["total"] > 0, f"phases: TLS handshakes: {ph}")
    check(ph["waiting"]["50"] > 0 and ph["receiving"]["99"] >= ph["receiving"]["50"] >= 0,
          f"phases: waiting and receiving: {ph}")
    check(find_row(s, "GET", "/big")["phases_ms"]["receiving"]["avg"] >=
          find_row(s, "GET", "/a")["phases_ms"]["receiving"]["avg"],
          "a 1 MiB body takes longer to receive than a 4-byte one")


def test_small_window_does_not_stall():
    """With the protocol's smallest window every DATA byte must be consumed and the window
    reopened, or a 1 MiB body would stall until the timeout."""
    with H2Nginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "--http2", "--insecure", "--h2-window", "65535", "-u", "2", "-r",
             "100", "--iterations", "20", "--timeout", "10s"],
            'endpoints = { Task{"GET", "/big"} }\n')
        served = per_path(log_lines(n))
    check_eq(code, 0, f"exit code ({err[-500:]}, {s and s['errors']})")
    big = find_row(s, "GET", "/big")
    check_eq(big["num_requests"], 20, "requests")
    check_eq(big["num_failures"], 0, "failures")
    check_eq(big["avg_content_bytes"], BIG, "body bytes")
    check_eq(served.get("GET /big"), 20, "server count")


def test_scripted_user_with_cookie_and_redirect_over_h2():
    scenario = """\
User{
  on_start = function(u) u:post("/login", {json = {user = "a"}}) end,
  tasks = { function(u)
    local p = u:get("/private")
    if p.status ~= 200 then p:failure("cookie not sent: " .. p.status) end
    local r = u:get("/redirect")
    if r.status ~= 200 or r.body ~= "aaaa" then r:failure("not followed: " .. r.status) end
  end },
}
"""
    with H2Nginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "--http2", "--insecure", "-u", "2", "-r", "100", "--iterations",
             "50", "--threads", "1"], scenario)
        lines = log_lines(n)
    check_eq(code, 0, f"exit code ({err[-500:]}, {s and s['errors']})")
    check_eq(s["protocol"], "h2", "JSON protocol")
    check_eq(s["total"]["num_failures"], 0, f"failures: {s['errors']}")
    served = per_path(lines)
    check_eq({p for p, *_ in lines}, {"HTTP/2.0"}, "the server logged HTTP/2 only")
    check_eq(find_row(s, "GET", "/private")["num_requests"], 50, "tool /private")
    check_eq(served.get("GET /private"), 50, "server /private")
    check_eq(served.get("GET /redirect"), 50, "server /redirect")
    check_eq(served.get("GET /a"), 50, "the redirect was followed once per iteration")
    check_eq(find_row(s, "GET", "/redirect")["num_requests"], 50, "a redirect is one request")


def test_server_declining_h2_falls_back_to_http11():
    with H2Nginx(http2=False) as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "--http2", "--insecure", "-u", "2", "-r", "100", "--iterations",
             "100"], TASKS)
        lines = log_lines(n)
    check_eq(code, 0, f"exit code ({err[-500:]})")
    check_eq(s["protocol"], "http/1.1", "JSON protocol")
    check_eq(s["connections"]["h2"], 0, "no h2 connection")
    check_eq(s["connections"]["h2_declined"], s["connections"]["http/1.1"],
             "every connection offered h2 and was declined")
    check({p for p, *_ in lines} == {"HTTP/1.1"}, "the server logged HTTP/1.1")
    check_eq(len(lines), 100, "server count")
    check("Protocol: http/1.1" in out and "declined h2" in out,
          f"the summary says it fell back:\n{out[-600:]}")


def test_goaway_mid_run_loses_nothing():
    """nginx ends each connection with GOAWAY after 50 requests: every request still gets
    its answer, on new connections."""
    with H2Nginx(keepalive_requests=50) as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "--http2", "--insecure", "-u", "4", "-r", "100", "--iterations",
             "1000", "--threads", "2"], 'endpoints = { Task{"GET", "/a"} }\n')
        lines = log_lines(n)
    check_eq(code, 0, f"exit code ({err[-500:]}, {s and s['errors']})")
    check_eq(find_row(s, "GET", "/a")["num_requests"], 1000, "tool count")
    check_eq(s["total"]["num_failures"], 0, f"failures: {s['errors']}")
    check_eq(len(lines), 1000, "server lines == tool count (a retried stream was never served)")
    check(s["connections"]["h2"] >= 1000 // 50, f"new connections: {s['connections']}")


# ---- h2c against Debian's nghttpd ----

class Nghttpd:
    def __init__(self, extra=()):
        self.extra = list(extra)

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="sl-nghttpd-")
        os.mkdir(os.path.join(self.dir, "doc"))
        with open(os.path.join(self.dir, "doc", "a"), "w") as f:
            f.write("hello")
        with open(os.path.join(self.dir, "doc", "big"), "wb") as f:
            f.write(os.urandom(BIG))
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "verbose.log"), "w")
        self.proc = subprocess.Popen(
            ["nghttpd", "--no-tls", "-v", "-a", "127.0.0.1", "-d", os.path.join(self.dir, "doc"),
             *self.extra, str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        harness.wait_for_port(self.port, timeout=10.0, proc=self.proc)
        return self

    def __exit__(self, *exc):
        harness._stop_process(self.proc)
        self.log.close()
        if not os.environ.get("SL_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def paths(self):
        """Requests per :path, from nghttpd's own frame log (the HEADERS it received)."""
        time.sleep(0.3)
        self.log.flush()
        out = {}
        with open(os.path.join(self.dir, "verbose.log"), errors="replace") as f:
            for line in f:
                m = re.search(r"recv \(stream_id=\d+\) :path: (\S+)", line)
                if m:
                    out[m.group(1)] = out.get(m.group(1), 0) + 1
        return out


def test_h2c_against_nghttpd():
    with Nghttpd() as d:
        code, s, out, err = run_stormlight(
            ["-H", d.url, "--h2c", "-u", "3", "-r", "100", "--iterations", "300"],
            'endpoints = { Task{"GET", "/a", weight = 2}, Task{"HEAD", "/a"},'
            ' Task{"GET", "/big"}, Task{"GET", "/nope"} }\n')
        served = d.paths()
    check_eq(code, 1, f"exit code: the 404s fail ({err[-500:]})")
    check_summary(s)
    check_eq(s["protocol"], "h2", "JSON protocol")
    check_eq(s["connections"]["h2"], 3, "one connection per user")
    rows = {(r["method"], r["name"]): r for r in s["stats"]}
    check_eq(sum(r["num_requests"] for r in rows.values()), 300, "--iterations")
    check_eq(served.get("/a", 0), rows[("GET", "/a")]["num_requests"] +
             rows[("HEAD", "/a")]["num_requests"], "/a: server vs tool")
    check_eq(served.get("/big", 0), rows[("GET", "/big")]["num_requests"], "/big")
    check_eq(served.get("/nope", 0), rows[("GET", "/nope")]["num_requests"], "/nope")
    check_eq(rows[("GET", "/big")]["avg_content_bytes"], BIG, "body bytes")
    check_eq(rows[("HEAD", "/a")]["avg_content_bytes"], 0, "HEAD has no body")
    check_eq(rows[("GET", "/nope")]["num_failures"], rows[("GET", "/nope")]["num_requests"],
             "404s fail")
    check_eq([e["error"] for e in s["errors"]], ["HTTP 404 Not Found"], "error rows")


# ---- the protocol's edges, against a raw-frame server ----

OK_HEADERS = b"\x88"  # HPACK: indexed field 8, ":status: 200"


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    return bytes(out + [value])


def literal(name, value):
    """HPACK: a literal field without indexing, new name, no Huffman coding."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


class RawH2:
    """A cleartext HTTP/2 server that answers each request stream per `mode`:
    ok, rst (RST_STREAM INTERNAL_ERROR), refuse (RST_STREAM REFUSED_STREAM), broken (a
    DATA frame on stream 0: a connection PROTOCOL_ERROR), goaway (answers the first stream
    of each connection, then GOAWAY with that stream as the last and a close), bigheaders
    (a header list of 80 KB in HEADERS and CONTINUATION frames), silent (never answers)."""

    def __init__(self, mode):
        self.mode = mode
        self.answered = 0
        self.streams = 0
        self.lock = threading.Lock()

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.sock.close()
        return False

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        first = None
        try:
            c.sendall(frame(4, 0, 0))
            while True:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                if buf.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
                    buf = buf[24:]
                while len(buf) >= 9:
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype, flags = buf[3], buf[4]
                    stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                    buf = buf[9 + length:]
                    if ftype == 4 and not flags & 1:
                        c.sendall(frame(4, 1, 0))
                    if ftype != 1:
                        continue
                    with self.lock:
                        self.streams += 1
                    if self.mode == "ok" or (self.mode == "goaway" and first is None):
                        first = stream
                        c.sendall(frame(1, 0x5, stream, OK_HEADERS))
                        with self.lock:
                            self.answered += 1
                    elif self.mode == "goaway":
                        c.sendall(frame(7, 0, 0, struct.pack(">II", first, 0)))
                        c.close()
                        return
                    elif self.mode == "rst":
                        c.sendall(frame(3, 0, stream, struct.pack(">I", 2)))
                    elif self.mode == "refuse":
                        c.sendall(frame(3, 0, stream, struct.pack(">I", 7)))
                    elif self.mode == "broken":
                        c.sendall(frame(0, 0, 0, b"x"))
                    elif self.mode == "bigheaders":
                        block = OK_HEADERS + b"".join(
                            literal(b"x-big-%d" % i, b"v" * 1000) for i in range(80))
                        parts = [block[i:i + 16384] for i in range(0, len(block), 16384)]
                        c.sendall(frame(1, 0x1, stream, parts[0]) + b"".join(
                            frame(9, 0x4 if k == len(parts) - 1 else 0, stream, p)
                            for k, p in enumerate(parts[1:], 1)))
        except OSError:
            return
        finally:
            c.close()


def run_raw(mode, iterations=20):
    with RawH2(mode) as srv:
        code, s, out, err = run_stormlight(
            ["-H", srv.url, "--h2c", "-u", "1", "-r", "100", "--iterations", str(iterations),
             "--timeout", "1s" if mode == "silent" else "5s"],
            'endpoints = { Task{"GET", "/x"} }\n')
        time.sleep(0.2)
        return code, s, err, srv


def test_rst_stream_is_its_own_failure():
    code, s, err, srv = run_raw("rst")
    check_eq(code, 1, f"exit code ({err[-300:]})")
    row = find_row(s, "GET", "/x")
    check_eq((row["num_requests"], row["num_failures"]), (20, 20), "every stream reset")
    check_eq([e["error"] for e in s["errors"]],
             ["HTTP/2 stream reset by the server: INTERNAL_ERROR"], "error rows")
    check_eq(s["connections"]["h2"], 1, "a reset stream leaves the connection usable")


def test_refused_stream_is_retried_once_then_its_own_failure():
    code, s, err, srv = run_raw("refuse", 10)
    check_eq(code, 1, f"exit code ({err[-300:]})")
    row = find_row(s, "GET", "/x")
    check_eq((row["num_requests"], row["num_failures"]), (10, 10), "every stream refused")
    check_eq(s["retries"], 10, "each refused GET was retried once")
    check_eq(srv.streams, 20, "the server saw each request twice")
    check_eq([e["error"] for e in s["errors"]], ["HTTP/2 stream refused by the server"],
             "error rows")


def test_protocol_error_is_its_own_failure():
    code, s, err, srv = run_raw("broken", 5)
    check_eq(code, 1, f"exit code ({err[-300:]})")
    row = find_row(s, "GET", "/x")
    check_eq((row["num_requests"], row["num_failures"]), (5, 5), "every exchange fails")
    check_eq([e["error"] for e in s["errors"]], ["HTTP/2 protocol error"], "error rows")
    check_eq(s["connections"]["h2"], 5, "a protocol error ends the connection")


def test_header_list_over_the_limit_fails_as_too_large():
    """80 fields of 1 KB: over the 64 KiB ceiling HTTP/1.1's header block has too."""
    code, s, err, srv = run_raw("bigheaders", 5)
    check_eq(code, 1, f"exit code ({err[-300:]})")
    row = find_row(s, "GET", "/x")
    check_eq((row["num_requests"], row["num_failures"]), (5, 5), "every exchange fails")
    check_eq([e["error"] for e in s["errors"]], ["response header too large"], "error rows")


def test_silent_server_times_out():
    code, s, err, srv = run_raw("silent", 2)
    check_eq(code, 1, f"exit code ({err[-300:]})")
    row = find_row(s, "GET", "/x")
    check_eq((row["num_requests"], row["num_failures"]), (2, 2), "both exchanges fail")
    check_eq([e["error"] for e in s["errors"]], ["timeout"], "error rows")


def test_stream_above_goaway_last_id_is_retried():
    code, s, err, srv = run_raw("goaway", 20)
    check_eq(code, 0, f"exit code ({err[-300:]}, {s and s['errors']})")
    row = find_row(s, "GET", "/x")
    check_eq((row["num_requests"], row["num_failures"]), (20, 0), "nothing lost")
    check_eq(srv.answered, 20, "the server answered each request once")
    check_eq(s["retries"], srv.streams - 20, "the refused streams are the retries")
    check(s["retries"] >= 9, f"retries counted: {s['retries']}")


def test_bad_flags_exit_2():
    for args, want in [(["--http2", "-H", "http://127.0.0.1:1"], "--http2"),
                       (["--h2c", "-H", "https://127.0.0.1:1"], "--h2c"),
                       (["--h2c", "--http2", "-H", "http://127.0.0.1:1"], "give one"),
                       (["--h2c", "--h2-window", "10", "-H", "http://127.0.0.1:1"],
                        "--h2-window")]:
        code, s, out, err = run_stormlight(args + ["-t", "1s"], TASKS, write_json=False)
        check_eq(code, 2, f"{args}: exit code ({err})")
        check(want in err, f"{args}: message names it: {err}")


if __name__ == "__main__":
    harness.main()
