"""End-to-end test harness for stormlight (Python 3 standard library only).

Each tests/e2e/test_*.py is a plain script: it defines test_* functions and ends with
``harness.main()``, which runs them in definition order, prints each failure with its
message, and finishes with a line ``e2e test_x: N passed, M failed`` (exit status 1 if any
failed). ctest runs every script as ``python3 tests/e2e/test_x.py``.

Environment:
  SL_BIN         the stormlight binary   (default <repo>/build/stormlight)
  SL_TARGET      the sl_target binary    (default <repo>/build/sl_target; when that is
                 missing too, it is compiled from tests/target/sl_target.c into a temp dir)
  SL_SOURCE_DIR  the repository root     (default: two folders above this file)
  SL_KEEP_TMP    when set, temp dirs (nginx config and logs, scenario files) are kept

Servers run on 127.0.0.1 only, are started and stopped by the tests themselves, and are
stopped by their own PID.
"""

import inspect
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

REPO = os.environ.get("SL_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
SL_BIN = os.environ.get("SL_BIN") or os.path.join(REPO, "build", "stormlight")
NGINX = "/usr/sbin/nginx"

PERCENTILE_KEYS = ["50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100"]
ROW_FIELDS = [
    "method", "name", "num_requests", "num_failures", "min_ms", "max_ms", "avg_ms",
    "rps", "failures_per_s", "avg_content_bytes", "percentiles_ms",
]

# urllib honours http_proxy from the environment; the tests talk to 127.0.0.1 directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class TestFailure(AssertionError):
    """A failed check; its message is printed as the reason the test failed."""


def check(cond, msg):
    """Fails the current test with msg unless cond holds."""
    if not cond:
        raise TestFailure(msg)


def check_eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def check_between(value, lo, hi, what):
    check(value is not None and lo <= value <= hi, f"{what}: expected {lo}..{hi}, got {value!r}")


# Sanitizer builds (ctest passes SL_SANITIZE: address,undefined or thread) run the tool and
# the target several times slower, on 2 cores shared with other work: they check
# correctness, not speed. A bound that measures speed (a rate within 1 %, the send lag, how
# soon a run ends) holds in the normal build only; under sanitizers a test skips it, or
# widens its upper end with speed_bound(). Lower bounds that say "not early" stay.
SANITIZED = bool(os.environ.get("SL_SANITIZE"))


def speed_bound(normal, sanitized):
    """The upper end of a bound that measures speed: `normal` in the normal build,
    `sanitized` (looser) under sanitizers."""
    return sanitized if SANITIZED else normal


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=5.0, proc=None):
    """Waits until 127.0.0.1:port accepts a connection; fails if proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise TestFailure(f"server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TestFailure(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stops a child by its own PID: sig first, SIGKILL if it does not go in time."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _http_get(url, timeout=5.0):
    with _OPENER.open(url, timeout=timeout) as resp:
        return resp.read()


_built_target = None


def target_binary():
    """The sl_target path: SL_TARGET, <repo>/build/sl_target, or a fresh compile."""
    global _built_target
    env = os.environ.get("SL_TARGET")
    if env:
        return env
    path = os.path.join(REPO, "build", "sl_target")
    if os.path.exists(path):
        return path
    if _built_target is None:
        # Lets the target's own tests run before the CMake build exists.
        out_dir = tempfile.mkdtemp(prefix="sl-target-build-")
        out = os.path.join(out_dir, "sl_target")
        src = os.path.join(REPO, "tests", "target", "sl_target.c")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-O2", src, "-o", out], check=True)
        _built_target = out
    return _built_target


class Target:
    """The project's scriptable HTTP target, on an ephemeral loopback port.

    with Target() as t:
        t.url                  # "http://127.0.0.1:PORT"
        t.stats()              # the /__stats JSON
        t.counts()             # just the {"METHOD /path": n} part
        t.last("POST /x")      # {"headers": {...}, "body": "..."} or None
        t.reset()
    t.returncode               # exit status after the context (0 = clean SIGTERM exit)
    """

    def __init__(self, args=()):
        self.args = list(args)
        self.proc = None
        self.port = None
        self.url = None
        self.returncode = None

    def __enter__(self):
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [target_binary(), "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 5.0)
        line = self.proc.stdout.readline().decode(errors="replace") if ready else ""
        m = re.fullmatch(r"PORT (\d+)\n", line)
        if not m:
            _stop_process(self.proc)
            raise TestFailure(f"sl_target did not print 'PORT <n>' (got {line!r}): "
                              f"{self.stderr_text()}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc):
        self.returncode = _stop_process(self.proc)
        self.proc.stdout.close()
        return False

    def stderr_text(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stats(self):
        return json.loads(_http_get(self.url + "/__stats"))

    def counts(self):
        return {k: v for k, v in self.stats().items() if " " in k}

    def count(self, key):
        return self.counts().get(key, 0)

    def last(self, key):
        return self.stats()["last"].get(key)

    def reset(self):
        _http_get(self.url + "/__reset")


NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    # One line per request: METHOD URI STATUS (the URI has no query string).
    log_format sl '$request_method $uri $status';
    access_log {dir}/access.log sl;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {{
        listen 127.0.0.1:{port};
        location = /hello {{
            default_type application/json;
            return 200 '{{"hello":"world"}}';
        }}
        location = /api/upload {{
            default_type application/json;
            return 200 '{{"ok":true}}';
        }}
        location = /status/503 {{
            return 503;
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""


class Nginx:
    """A private nginx on 127.0.0.1 with /hello, /api/upload and /status/503.

    with Nginx() as n:
        n.url          # "http://127.0.0.1:PORT"
        n.counts()     # {"GET /hello": 3, ...} from the access log
    """

    def __init__(self, conf=NGINX_CONF, scheme="http", prepare=None):
        """conf: a config template with {dir} and {port}; prepare(dir), when given, runs
        before nginx starts (e.g. to make a certificate for an https config)."""
        self.dir = None
        self.proc = None
        self.port = None
        self.url = None
        self.template = conf
        self.scheme = scheme
        self.prepare = prepare

    def __enter__(self):
        if not os.path.exists(NGINX):
            raise TestFailure(f"{NGINX} not found (apt-get install nginx-light)")
        self.dir = tempfile.mkdtemp(prefix="sl-nginx-")
        if self.prepare:
            self.prepare(self.dir)
        self.port = free_port()
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.access_log = os.path.join(self.dir, "access.log")
        with open(self.conf, "w") as f:
            f.write(self.template.format(dir=self.dir, port=self.port))
        # -e: the error log used before the config is read (else /var/log/nginx).
        self.proc = subprocess.Popen(
            [NGINX, "-c", self.conf, "-p", self.dir + "/",
             "-e", os.path.join(self.dir, "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, timeout=10.0, proc=self.proc)
        except TestFailure as e:
            self._stop()
            raise TestFailure(f"nginx did not start: {e}: {self.error_log()}")
        return self

    def __exit__(self, *exc):
        self._stop()
        if not os.environ.get("SL_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def _stop(self):
        # SIGQUIT is nginx's graceful shutdown: workers finish and flush their log lines.
        _stop_process(self.proc, signal.SIGQUIT, timeout=10.0)

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def counts(self, settle_s=0.3, max_wait_s=3.0):
        """Requests per "METHOD /uri" from the access log.

        nginx writes a line when a request ends, so this waits until the log has stopped
        growing for settle_s (at most max_wait_s) before reading it.
        """
        deadline = time.monotonic() + max_wait_s
        last_size, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            size = os.path.getsize(self.access_log) if os.path.exists(self.access_log) else 0
            now = time.monotonic()
            if size != last_size:
                last_size, stable_since = size, now
            elif now - stable_since >= settle_s:
                break
            time.sleep(0.05)
        counts = {}
        with open(self.access_log, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                method, rest = line.split(" ", 1)
                uri = rest.rsplit(" ", 1)[0]
                key = f"{method} {uri}"
                counts[key] = counts.get(key, 0) + 1
        return counts


# Nothing listens on port 1: a bad invocation that were accepted would fail differently
# (exit 1) instead of hanging.
NOWHERE = "http://127.0.0.1:1"


def usage_args(**override):
    """A valid argument list with some flags replaced: usage_args(u="abc") -> ... -u abc
    ...; a flag set to None is left out."""
    flags = {"H": NOWHERE, "u": "1", "r": "1", "t": "1s"}
    flags.update(override)
    args = []
    for k, v in flags.items():
        if v is not None:
            args += [f"-{k}", v]
    return args


def write_scenario(directory, text, name="stormlight_file.lua"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_stormlight(args, scenario_text=None, timeout=60, write_json=True, interrupt_after=None,
                   during=None, cwd=None):
    """Runs the stormlight binary and returns (exit_code, summary, stdout, stderr).

    args:            command-line arguments (list of str)
    scenario_text:   when given, written to stormlight_file.lua in a fresh temp dir,
                     which is also the working directory, so the default -f finds it
    write_json:      add --json <tmp file> and parse it; summary is None when absent
    interrupt_after: send SIGINT this many seconds after the start
    during:          callable(proc, t0) run while the binary runs (to sample servers)
    cwd:             working directory (default: the temp dir)

    exit_code is negative when the process died from a signal. The wall time is kept in
    run_stormlight.last_wall_s.
    """
    if not os.path.exists(SL_BIN):
        raise TestFailure(f"stormlight binary not found at {SL_BIN}: build it (make) or set SL_BIN")
    tmp = tempfile.mkdtemp(prefix="sl-run-")
    try:
        if scenario_text is not None:
            write_scenario(tmp, scenario_text)
        argv = [SL_BIN, *args]
        json_path = os.path.join(tmp, "summary.json")
        if write_json:
            argv += ["--json", json_path]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=cwd or tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Timed actions run before communicate(), which drains the pipes. They are short
        # (a few seconds), far less than the live view needs to fill a 64 KiB pipe.
        try:
            if during is not None:
                during(proc, t0)
            if interrupt_after is not None:
                delay = interrupt_after - (time.monotonic() - t0)
                if delay > 0:
                    time.sleep(delay)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            remaining = max(1.0, timeout - (time.monotonic() - t0))
            out, err = proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise TestFailure(f"stormlight did not finish within {timeout}s: {' '.join(argv)}\n"
                              f"stderr: {err.decode(errors='replace')[-2000:]}")
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            raise
        run_stormlight.last_wall_s = time.monotonic() - t0
        summary = None
        if write_json and os.path.exists(json_path) and os.path.getsize(json_path) > 0:
            with open(json_path) as f:
                text = f.read()
            try:
                summary = json.loads(text)
            except ValueError:
                summary = None
        return (proc.returncode, summary, out.decode(errors="replace"),
                err.decode(errors="replace"))
    finally:
        if not os.environ.get("SL_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)


run_stormlight.last_wall_s = None


def json_from_stdout(text):
    """Finds the summary JSON object in stdout (alone, or after other output)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"^\{", text, re.M):
        try:
            obj, _ = decoder.raw_decode(text[m.start():])
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("schema", "").startswith("stormlight.summary/"):
            return obj
    return None


def describe(code, summary, stdout, stderr):
    """A compact description of a run, for failure messages."""
    rows = []
    if summary:
        for r in summary.get("stats", []):
            rows.append(f"{r.get('method')} {r.get('name')}: {r.get('num_requests')} req, "
                        f"{r.get('num_failures')} fail")
        rows.append(f"errors={summary.get('errors')} in_flight={summary.get('in_flight_at_stop')} "
                    f"retries={summary.get('retries')}")
    return (f"exit={code}; " + "; ".join(rows) + f"; stderr={stderr.strip()[-500:]!r}")


def find_row(summary, method, name):
    for row in summary.get("stats", []):
        if row.get("method") == method and row.get("name") == name:
            return row
    raise TestFailure(f"no stats row for {method} {name}; rows: "
                      f"{[(r.get('method'), r.get('name')) for r in summary.get('stats', [])]}")


def errors_for(summary, method, name):
    return [e for e in summary.get("errors", [])
            if e.get("method") == method and e.get("name") == name]


def check_row(row, what):
    """Checks one stats row (or the total row) of stormlight.summary/1 for consistency."""
    for field in ROW_FIELDS:
        check(field in row, f"{what}: field {field!r} missing")
    n, f = row["num_requests"], row["num_failures"]
    check(isinstance(n, int) and n >= 0, f"{what}: num_requests {n!r}")
    check(isinstance(f, int) and 0 <= f <= n, f"{what}: num_failures {f!r} of {n}")
    check(row["rps"] >= 0 and row["failures_per_s"] >= 0, f"{what}: negative rate")
    pct = row["percentiles_ms"]
    check(sorted(pct.keys(), key=float) == sorted(PERCENTILE_KEYS, key=float),
          f"{what}: percentile keys {sorted(pct.keys(), key=float)}")
    if n == 0:
        return
    lo, hi, avg = row["min_ms"], row["max_ms"], row["avg_ms"]
    eps = 0.0015  # times have microsecond precision; allow rounding of the last digit
    check(0 <= lo <= hi, f"{what}: min_ms {lo} > max_ms {hi}")
    check(lo - eps <= avg <= hi + eps, f"{what}: avg_ms {avg} outside [{lo}, {hi}]")
    values = [pct[k] for k in PERCENTILE_KEYS]
    for k, v in zip(PERCENTILE_KEYS, values):
        check(lo - eps <= v <= hi + eps, f"{what}: p{k} = {v} outside [min {lo}, max {hi}]")
    check(all(a <= b for a, b in zip(values, values[1:])),
          f"{what}: percentiles not monotonic: {values}")


def check_summary(summary, what="summary"):
    """Checks the shape of stormlight.summary/1 and that the total row matches the rows."""
    check(isinstance(summary, dict), f"{what}: no JSON summary was written")
    check_eq(summary.get("schema"), "stormlight.summary/1", f"{what} schema")
    check_eq(summary.get("version"), "0.2.0", f"{what} version")
    for field in ["host", "started_at", "duration_s", "users", "spawn_rate", "threads", "stats",
                  "total", "errors", "in_flight_at_stop", "retries"]:
        check(field in summary, f"{what}: field {field!r} missing")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                       str(summary["started_at"])) is not None,
          f"{what}: started_at {summary['started_at']!r} is not ISO 8601 UTC")
    check(isinstance(summary["in_flight_at_stop"], int) and summary["in_flight_at_stop"] >= 0,
          f"{what}: in_flight_at_stop {summary['in_flight_at_stop']!r}")
    check(isinstance(summary["retries"], int) and summary["retries"] >= 0,
          f"{what}: retries {summary['retries']!r}")
    rows = summary["stats"]
    for row in rows:
        check_row(row, f"{what} row {row.get('method')} {row.get('name')}")
    total = summary["total"]
    check_row(total, f"{what} total")
    check_eq(total["name"], "Aggregated", f"{what} total name")
    check_eq(total["num_requests"], sum(r["num_requests"] for r in rows), f"{what} total requests")
    check_eq(total["num_failures"], sum(r["num_failures"] for r in rows), f"{what} total failures")
    used = [r for r in rows if r["num_requests"] > 0]
    if used:
        check(abs(total["min_ms"] - min(r["min_ms"] for r in used)) < 0.0015,
              f"{what}: total min_ms {total['min_ms']} != min of rows")
        check(abs(total["max_ms"] - max(r["max_ms"] for r in used)) < 0.0015,
              f"{what}: total max_ms {total['max_ms']} != max of rows")
        weighted = sum(r["avg_ms"] * r["num_requests"] for r in used) / total["num_requests"]
        check(abs(total["avg_ms"] - weighted) <= max(0.01, 0.01 * weighted),
              f"{what}: total avg_ms {total['avg_ms']} != weighted row average {weighted:.3f}")
        rps = sum(r["rps"] for r in rows)
        check(abs(total["rps"] - rps) <= max(0.2, 0.02 * rps),
              f"{what}: total rps {total['rps']} != sum of rows {rps:.2f}")
    occurrences = sum(e.get("occurrences", 0) for e in summary["errors"])
    check_eq(occurrences, total["num_failures"], f"{what}: sum of error occurrences vs failures")
    for e in summary["errors"]:
        for field in ["method", "name", "error", "occurrences"]:
            check(field in e, f"{what}: error row field {field!r} missing: {e}")


def check_reconciles(summary, server_counts, pairs, what="server count"):
    """Checks the tool's counts against what the server saw.

    pairs: [(method, row name, server key)]. Per row and in sum, the contract gives
    tool <= server <= tool + in_flight_at_stop + retries.
    """
    slack = summary["in_flight_at_stop"] + summary["retries"]
    tool_sum = server_sum = 0
    for method, name, key in pairs:
        tool = find_row(summary, method, name)["num_requests"]
        server = server_counts.get(key, 0)
        tool_sum += tool
        server_sum += server
        check(tool <= server <= tool + slack,
              f"{what} {key}: tool {tool}, server {server}, in_flight+retries {slack}")
    check(tool_sum <= server_sum <= tool_sum + slack,
          f"{what} summed: tool {tool_sum}, server {server_sum}, in_flight+retries {slack}")


class RawConn:
    """A raw HTTP/1.x client connection, for looking at exactly what a server sends."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send_request(self, method, path, headers=None, body=b"", version="HTTP/1.1"):
        self.sock.sendall(render_request(method, path, headers, body, version))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by server")
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_head(self):
        """Returns (version, status, reason, headers dict with lower-case names, raw head)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"(HTTP/\d\.\d) (\d{3}) ?(.*)", lines[0])
        if not m:
            raise ValueError(f"malformed status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return m.group(1), int(m.group(2)), m.group(3), headers, head

    def read_response(self, method="GET"):
        """Reads one response; returns a dict: version, status, reason, headers, body."""
        version, status, reason, headers, head = self.read_head()
        if method == "HEAD" or status < 200 or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._take(size)
                check_eq(self._take(2), b"\r\n", "chunk terminator")
        elif "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        else:
            body = self.read_until_close()
        return {"version": version, "status": status, "reason": reason, "headers": headers,
                "body": body, "head": head}

    def read_until_close(self):
        """Everything up to EOF (ConnectionResetError propagates)."""
        chunks = [self.buf]
        self.buf = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)

    def read_all_or_error(self):
        """Reads to EOF or error; returns (bytes, exception or None)."""
        chunks = [self.buf]
        self.buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                return b"".join(chunks), e
            if not data:
                return b"".join(chunks), None
            chunks.append(data)


def render_request(method, path, headers=None, body=b"", version="HTTP/1.1"):
    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Host": "127.0.0.1"}
    hdrs.update(headers or {})
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    return head.encode() + b"\r\n" + body


def main():
    """Runs the calling script's test_* functions in order; exits 1 if any failed."""
    caller = inspect.stack()[1]
    namespace = caller.frame.f_globals
    script = os.path.splitext(os.path.basename(caller.filename))[0]
    del caller
    only = sys.argv[1:]
    tests = [(name, fn) for name, fn in list(namespace.items())
             if name.startswith("test_") and callable(fn)
             and (not only or any(o in name for o in only))]
    passed = failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
        except TestFailure as e:
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - t0:.2f}s): {e}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - t0:.2f}s): unexpected exception", flush=True)
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {name} ({time.monotonic() - t0:.2f}s)", flush=True)
    print(f"e2e {script}: {passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
