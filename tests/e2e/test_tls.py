"""TLS end to end: nginx with a self-signed certificate made at test time with the openssl
command. Verification must fail without --insecure (every request a TLS failure) and pass
with it (the server's count equals the tool's)."""

import os
import shutil
import signal
import subprocess
import tempfile

import harness
from harness import check, check_eq, find_row, run_stormlight

CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format sl '$request_method $uri $status';
    access_log {dir}/access.log sl;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        location = /hello {{
            default_type application/json;
            return 200 '{{"hello":"tls"}}';
        }}
    }}
}}
"""

SCENARIO = 'endpoints = { Task{"GET", "/hello"} }\n'


class TlsNginx(harness.Nginx):
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="sl-tls-")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-keyout", os.path.join(self.dir, "key.pem"),
             "-out", os.path.join(self.dir, "cert.pem")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = harness.free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.access_log = os.path.join(self.dir, "access.log")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, port=self.port))
        self.proc = subprocess.Popen(
            [harness.NGINX, "-c", self.conf, "-p", self.dir + "/",
             "-e", os.path.join(self.dir, "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_for_port(self.port, timeout=10.0, proc=self.proc)
        return self


def test_self_signed_fails_verification():
    with TlsNginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "-u", "2", "-r", "100", "-t", "1s", "-q"], SCENARIO)
        check_eq(code, 1, "exit code without --insecure")
        row = find_row(s, "GET", "/hello")
        check(row["num_requests"] > 0, "attempts are counted")
        check_eq(row["num_failures"], row["num_requests"], "every request fails")
        errs = [e["error"] for e in s["errors"]]
        check_eq(errs, ["TLS certificate verification failed"], "error rows")
        check_eq(n.counts().get("GET /hello", 0), 0, "no request reached the server")


def test_insecure_passes_and_counts_match():
    with TlsNginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "-u", "4", "-r", "100", "-t", "2s", "-q", "--insecure",
             "--threads", "2"], SCENARIO)
        check_eq(code, 0, f"exit code with --insecure (stderr: {err[-500:]})")
        row = find_row(s, "GET", "/hello")
        check_eq(row["num_failures"], 0, "failures")
        check(row["num_requests"] > 100, f"some load: {row['num_requests']}")
        check_eq(row["avg_content_bytes"], len('{"hello":"tls"}'), "body bytes")
        served = n.counts().get("GET /hello", 0)
        lo = row["num_requests"]
        hi = lo + s["in_flight_at_stop"] + s["retries"]
        check(lo <= served <= hi, f"server saw {served}, tool counted {lo}..{hi}")


if __name__ == "__main__":
    harness.main()
