"""Timing phases end to end (docs/phases.md): against the project's target, a response
whose first byte comes 50 ms late shows the time in waiting, a body sent slowly shows it in
receiving; against nginx over TLS, the handshake is timed on new connections only: with
keep-alive every user opens one connection and reuses it, with a server that closes every
connection every request opens a new one and pays its handshake."""

import csv
import os
import re
import shutil
import tempfile

import harness
from harness import Target, check, check_between, check_eq, find_row, run_stormlight
from test_tls import CONF as TLS_CONF
from test_tls import TlsNginx, make_cert


def run_ok(args, scenario):
    code, s, out, err = run_stormlight(args, scenario)
    check_eq(code, 0, f"exit code (stderr: {err[-500:]})")
    return s


def phases(summary, name):
    row = find_row(summary, "GET", name)
    check_eq(row["num_failures"], 0, f"{name} failures")
    return row, row["phases_ms"]


def check_connections(row, ph, users, what):
    check_eq(ph["new_connections"], users, f"{what}: new connections")
    check_eq(ph["reused_connections"], row["num_requests"] - users, f"{what}: reused")


def check_reports(out, d, row, ph):
    """--phases printed the table; PREFIX_phases.csv and the HTML report say the same."""
    check("Timing phases (ms)" in out, "--phases prints its table")
    line = [ln for ln in out.splitlines() if ln.startswith("GET") and "/delay/50" in ln][-1]
    cells = line.split("|")
    check_eq(cells[-1].split()[-2:], [str(ph["new_connections"]), str(ph["reused_connections"])],
             "table: new and reused connections")
    with open(os.path.join(d, "r_phases.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    got = {r["Name"]: r for r in rows}
    c = got["/delay/50"]
    check_eq(int(c["Request Count"]), row["num_requests"], "csv: requests")
    check_eq(int(c["New Connections"]), ph["new_connections"], "csv: new connections")
    check_eq(int(c["Reused Connections"]), ph["reused_connections"], "csv: reused")
    check_eq(float(c["Waiting 50%"]), ph["waiting"]["50"], "csv: waiting p50 as in the JSON")
    check("Aggregated" in got, "csv: the Aggregated row")
    with open(os.path.join(d, "r.html"), encoding="utf-8") as f:
        page = f.read()
    check('id="chart-phases"' in page, "html: the phases chart")
    check(re.search(r'<rect class="sl-phase"[^>]*><title>waiting ', page) is not None,
          "html: a waiting segment in the stacked bars")


def test_first_byte_delay_is_waiting():
    users = 2
    d = tempfile.mkdtemp(prefix="sl-phases-")
    try:
        with Target() as t:
            code, s, out, err = run_stormlight(
                ["-H", t.url, "-u", str(users), "-r", "100", "-t", "2s", "-q", "--phases",
                 "--csv", os.path.join(d, "r"), "--html", os.path.join(d, "r.html")],
                'endpoints = { Task{"GET", "/delay/50"} }\n')
        check_eq(code, 0, f"exit code (stderr: {err[-500:]})")
        row, ph = phases(s, "/delay/50")
        check_reports(out, d, row, ph)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check(row["num_requests"] >= 10, f"some requests: {row['num_requests']}")
    check_between(ph["waiting"]["50"], 48, harness.speed_bound(70, 120), "waiting p50 (ms)")
    check_between(ph["waiting"]["avg"], 48, harness.speed_bound(70, 120), "waiting avg (ms)")
    check_between(ph["receiving"]["50"], 0, harness.speed_bound(5, 30), "receiving p50 (ms)")
    check_connections(row, ph, users, "keep-alive")
    check_eq(ph["tls_handshaking"]["total"], 0, "no TLS on plain http")
    check(ph["connecting"]["total"] >= 0, "connecting total")
    check(isinstance(s["dns_ms"], (int, float)) and s["dns_ms"] >= 0, f"dns_ms: {s['dns_ms']}")
    # The phases add up to the service time: sending + waiting + receiving.
    total = ph["sending"]["avg"] + ph["waiting"]["avg"] + ph["receiving"]["avg"]
    svc = row["service_percentiles_ms"]["50"]
    check_between(total, svc - 5, svc + 5, "phases sum vs service p50")


def test_slow_body_is_receiving():
    with Target() as t:
        s = run_ok(["-H", t.url, "-u", "2", "-r", "100", "-t", "2s", "-q"],
                   'endpoints = { Task{"GET", "/slow?ms=200", name="slow"} }\n')
    row, ph = phases(s, "slow")
    check(row["num_requests"] >= 2, f"some requests: {row['num_requests']}")
    # Ten pieces over 200 ms, the first after 20 ms: at least 160 ms between the first
    # body byte and the last (the head came at once).
    check_between(ph["receiving"]["50"], 160, harness.speed_bound(260, 400), "receiving p50")
    check_between(ph["waiting"]["50"], 0, harness.speed_bound(10, 40), "waiting p50 (ms)")
    check_connections(row, ph, 2, "keep-alive")


def test_tls_handshake_only_on_new_connections():
    users = 3
    with TlsNginx() as n:
        s = run_ok(["-H", n.url, "-u", str(users), "-r", "100", "-t", "2s", "-q",
                    "--insecure"], 'endpoints = { Task{"GET", "/hello"} }\n')
    row, ph = phases(s, "/hello")
    check(row["num_requests"] > 50, f"some load: {row['num_requests']}")
    check_connections(row, ph, users, "TLS keep-alive")
    check(ph["tls_handshaking"]["total"] > 0, f"handshake time: {ph['tls_handshaking']}")
    check(ph["tls_handshaking"]["avg"] > 0, "handshake time per new connection")
    # Spread over every request the handshakes are a small part: only 3 were made.
    per_request = ph["tls_handshaking"]["total"] / row["num_requests"]
    check(per_request < ph["tls_handshaking"]["avg"] / 10, "handshakes only on new connections")


CLOSE_CONF = TLS_CONF.replace("keepalive_requests 1000000;", "keepalive_timeout 0;")


def test_tls_server_closing_every_connection():
    with harness.Nginx(conf=CLOSE_CONF, scheme="https", prepare=make_cert) as n:
        s = run_ok(["-H", n.url, "-u", "2", "-r", "100", "-t", "2s", "-q", "--insecure"],
                   'endpoints = { Task{"GET", "/hello"} }\n')
    row, ph = phases(s, "/hello")
    check(row["num_requests"] > 10, f"some load: {row['num_requests']}")
    check_eq(ph["new_connections"], row["num_requests"], "every request on a new connection")
    check_eq(ph["reused_connections"], 0, "none reused")
    check(ph["tls_handshaking"]["avg"] > 0, "each pays a handshake")
    check(ph["connecting"]["avg"] >= 0, "connect time")


if __name__ == "__main__":
    harness.main()
