"""TLS end to end: nginx with certificates made at test time with the openssl command.
Verification must fail without --insecure (every request a TLS failure, OpenSSL's reason in
the error row, a hint at --insecure in the summary) and pass with it (the server's count
equals the tool's). At an address literal the certificate must name that address: a
certificate from a trusted CA for another name is refused, one with the IP in its SANs
passes. The test CA is trusted through SSL_CERT_FILE, which OpenSSL's default verify paths
read."""

import contextlib
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
        listen [::1]:{port} ssl;
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


def TlsNginx(prepare=make_cert):
    return harness.Nginx(conf=CONF, scheme="https", prepare=prepare)


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def ca_signed(san):
    """A prepare hook: a CA (ca.pem) and a server certificate it signed for san (e.g.
    "DNS:wrong.example" or "IP:127.0.0.1,IP:::1") as cert.pem / key.pem."""
    def prepare(d):
        p = lambda name: os.path.join(d, name)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=stormlight test CA",
                 "-keyout", p("ca.key"), "-out", p("ca.pem"))
        _openssl("req", "-new", *ec, "-subj", "/CN=" + san.split(",")[0].split(":", 1)[1],
                 "-keyout", p("key.pem"), "-out", p("cert.csr"))
        with open(p("ext.cnf"), "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", p("cert.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                 "-CAcreateserial", "-days", "1", "-extfile", p("ext.cnf"), "-out", p("cert.pem"))
    return prepare


@contextlib.contextmanager
def trusting(ca_path):
    """Runs the tool with ca_path as its only trusted CA."""
    old = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = ca_path
    try:
        yield
    finally:
        if old is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = old


def test_self_signed_fails_verification():
    with TlsNginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "-u", "2", "-r", "100", "-t", "1s", "-q"], SCENARIO)
        check_eq(code, 1, "exit code without --insecure")
        row = find_row(s, "GET", "/hello")
        check(row["num_requests"] > 0, "attempts are counted")
        check_eq(row["num_failures"], row["num_requests"], "every request fails")
        errs = [e["error"] for e in s["errors"]]
        check_eq(errs, ["TLS certificate verification failed: self-signed certificate"],
                 "error rows name OpenSSL's reason")
        check_eq(out.count("--insecure"), 1, f"one hint at --insecure in the summary: {out}")
        check_eq(n.counts().get("GET /hello", 0), 0, "no request reached the server")


def test_ip_host_checks_the_certificate_names_that_ip():
    """A trusted CA's certificate for wrong.example is refused at https://127.0.0.1 and
    https://[::1], as curl refuses it; nothing reaches the server."""
    with TlsNginx(ca_signed("DNS:wrong.example")) as n, trusting(os.path.join(n.dir, "ca.pem")):
        for host in ["127.0.0.1", "[::1]"]:
            code, s, out, err = run_stormlight(
                ["-H", f"https://{host}:{n.port}", "-u", "1", "-r", "100", "-t", "1s", "-q"],
                SCENARIO)
            check_eq(code, 1, f"{host}: exit code ({err[-300:]})")
            row = find_row(s, "GET", "/hello")
            check(row["num_requests"] > 0, f"{host}: attempts are counted")
            check_eq(row["num_failures"], row["num_requests"], f"{host}: every request fails")
            check_eq([e["error"] for e in s["errors"]],
                     ["TLS certificate verification failed: IP address mismatch"],
                     f"{host}: error rows")
        check_eq(n.counts().get("GET /hello", 0), 0, "no request reached the server")


def test_ip_host_passes_with_the_ip_in_the_certificate():
    with TlsNginx(ca_signed("IP:127.0.0.1,IP:::1")) as n, \
            trusting(os.path.join(n.dir, "ca.pem")):
        code, s, out, err = run_stormlight(
            ["-H", n.url, "-u", "2", "-r", "100", "-t", "1s", "-q"], SCENARIO)
        check_eq(code, 0, f"exit code (stderr: {err[-500:]}, errors: {s and s['errors']})")
        row = find_row(s, "GET", "/hello")
        check_eq(row["num_failures"], 0, "failures")
        check(row["num_requests"] > 10, f"some load: {row['num_requests']}")
        check("--insecure" not in out, "no hint when nothing failed")


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
