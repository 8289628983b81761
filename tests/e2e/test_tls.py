"""TLS end to end: nginx with a self-signed certificate made at test time with the openssl
command. Verification must fail without --insecure (every request a TLS failure) and pass
with it (the server's count equals the tool's)."""

import os
import subprocess

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


def make_cert(directory):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", os.path.join(directory, "key.pem"),
         "-out", os.path.join(directory, "cert.pem")],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def TlsNginx():
    return harness.Nginx(conf=CONF, scheme="https", prepare=make_cert)


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
