"""End-to-end: the stormlight binary against sl_target and nginx (ARCHITECTURE.md part B).

Assertions are on the JSON summary (stormlight.summary/1) and on what the servers counted.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Nginx, Target, check, check_between, check_eq,  # noqa: E402
                     check_reconciles, check_summary, describe, errors_for, find_row,
                     run_stormlight, speed_bound)

TWO_ENDPOINTS = """\
endpoints = {
  Task{"GET", "/hello", headers = {["Content-Type"] = "application/json", ["X-Test"] = "basic"}},
  Task{"POST", "/api/upload", data = {name = "test", price = 10},
       headers = {["Content-Type"] = "application/json"}},
}
"""
TWO_PAIRS = [("GET", "/hello", "GET /hello"), ("POST", "/api/upload", "POST /api/upload")]


def run_ok(args, scenario, expect_code=0, **kw):
    """Runs stormlight and checks the exit code and the summary's consistency."""
    code, summary, out, err = run_stormlight(args, scenario, **kw)
    check(code == expect_code, f"expected exit {expect_code}: {describe(code, summary, out, err)}")
    check_summary(summary)
    return summary, out, err


def test_two_endpoints_against_target():
    with Target() as t:
        # No -q here: the periodic plain-text view runs too and must not get in the way.
        summary, out, err = run_ok(["-H", t.url, "-u", "4", "-r", "100", "-t", "2s",
                                    "--threads", "2"], TWO_ENDPOINTS)
        counts = t.counts()
        stats = t.stats()
    check_eq(summary["host"], t.url, "host")
    check_eq(summary["users"], 4, "users")
    check_eq(summary["threads"], 2, "threads")
    check_eq(float(summary["spawn_rate"]), 100.0, "spawn_rate")
    check_between(summary["duration_s"], 2.0, speed_bound(2.5, 4.0), "duration_s")
    hello = find_row(summary, "GET", "/hello")
    upload = find_row(summary, "POST", "/api/upload")
    check_eq(len(summary["stats"]), 2, "number of stats rows")
    for row in (hello, upload):
        check(row["num_requests"] > 20, f"{row['name']}: only {row['num_requests']} requests")
        check_eq(row["num_failures"], 0, f"{row['name']} failures")
        check_eq(row["avg_content_bytes"], 11, f"{row['name']} avg_content_bytes")
    check_eq(summary["errors"], [], "errors")
    check_eq(sorted(counts), ["GET /hello", "POST /api/upload"], "paths the target saw")
    check_reconciles(summary, counts, TWO_PAIRS, "target count")
    # The request went out as written in the scenario.
    last_get = stats["last"]["GET /hello"]
    check_eq(last_get["headers"].get("x-test"), "basic", "GET X-Test header")
    check_eq(last_get["headers"].get("content-type"), "application/json", "GET Content-Type")
    check_eq(last_get["headers"].get("host"), t.url[len("http://"):], "Host header")
    last_post = stats["last"]["POST /api/upload"]
    check_eq(json.loads(last_post["body"]), {"name": "test", "price": 10}, "POST JSON body")
    check_eq(last_post["headers"].get("content-type"), "application/json", "POST Content-Type")
    check_eq(last_post["headers"].get("content-length"), str(len(last_post["body"].encode())),
             "POST Content-Length")


def test_error_statuses_fail():
    scenario = """\
endpoints = {
  Task{"GET", "/status/503"},
  Task{"GET", "/status/404"},
}
"""
    with Target() as t:
        summary, _, _ = run_ok(["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q"], scenario,
                               expect_code=1)
        counts = t.counts()
    for code, reason in [(503, "Service Unavailable"), (404, "Not Found")]:
        name = f"/status/{code}"
        row = find_row(summary, "GET", name)
        check(row["num_requests"] > 0, f"{name}: no requests")
        check_eq(row["num_failures"], row["num_requests"], f"{name} failures")
        errs = errors_for(summary, "GET", name)
        check_eq([e["error"] for e in errs], [f"HTTP {code} {reason}"], f"{name} error rows")
        check_eq(errs[0]["occurrences"], row["num_failures"], f"{name} occurrences")
        check(row["failures_per_s"] > 0, f"{name}: failures_per_s is 0")
    check_reconciles(summary, counts, [("GET", "/status/503", "GET /status/503"),
                                       ("GET", "/status/404", "GET /status/404")])


def test_error_rows_use_the_servers_reason_phrase():
    """The error row says what the server said ("422 Unprocessable Entity", an older
    phrase than RFC 9110's "Unprocessable Content"); the standard phrase when it sent that
    one; each phrase is its own row."""
    scenario = """\
endpoints = {
  Task{"GET", "/status/422?reason=Unprocessable+Entity", name = "own"},
  Task{"GET", "/status/422", name = "standard"},
}
"""
    with Target() as t:
        summary, _, _ = run_ok(["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q",
                                "--threads", "2"], scenario, expect_code=1)
    for name, text in [("own", "HTTP 422 Unprocessable Entity"),
                       ("standard", "HTTP 422 Unprocessable Content")]:
        row = find_row(summary, "GET", name)
        errs = errors_for(summary, "GET", name)
        check_eq([e["error"] for e in errs], [text], f"{name} error rows")
        check_eq(errs[0]["occurrences"], row["num_failures"], f"{name} occurrences")
        check_eq(row["num_failures"], row["num_requests"], f"{name} failures")
    # A scripted request too, and r.error says the same.
    scripted = """\
User{tasks = {function(u)
  local r = u:get("/status/422", {query = {reason = "Unprocessable Entity"}, name = "s"})
  if r.error ~= "HTTP 422 Unprocessable Entity" then error("r.error: " .. tostring(r.error)) end
end}}
"""
    with Target() as t:
        summary, _, _ = run_ok(["-H", t.url, "-u", "1", "-r", "100", "-t", "5s", "-q",
                                "--iterations", "3"], scripted, expect_code=1)
    check_eq(summary.get("exceptions", []), [], "exceptions")
    check_eq([(e["error"], e["occurrences"]) for e in errors_for(summary, "GET", "s")],
             [("HTTP 422 Unprocessable Entity", 3)], "scripted error rows")


def test_two_endpoints_against_nginx():
    with Nginx() as n:
        summary, _, _ = run_ok(["-H", n.url, "-u", "4", "-r", "100", "-t", "2s",
                                "--threads", "2", "-q"], TWO_ENDPOINTS)
        counts = n.counts()
    check_eq(summary["errors"], [], "errors")
    hello = find_row(summary, "GET", "/hello")
    upload = find_row(summary, "POST", "/api/upload")
    for row in (hello, upload):
        check(row["num_requests"] > 20, f"{row['name']}: only {row['num_requests']} requests")
        check_eq(row["num_failures"], 0, f"{row['name']} failures")
    check_eq(hello["avg_content_bytes"], len('{"hello":"world"}'), "/hello avg_content_bytes")
    check_eq(sorted(counts), ["GET /hello", "POST /api/upload"], "paths nginx logged")
    check_reconciles(summary, counts, TWO_PAIRS, "nginx access log")


def test_nginx_503():
    scenario = 'endpoints = { Task{"GET", "/status/503"} }\n'
    with Nginx() as n:
        summary, _, _ = run_ok(["-H", n.url, "-u", "2", "-r", "100", "-t", "1s", "-q"],
                               scenario, expect_code=1)
        counts = n.counts()
    row = find_row(summary, "GET", "/status/503")
    check(row["num_requests"] > 0, "no requests")
    check_eq(row["num_failures"], row["num_requests"], "failures")
    errs = errors_for(summary, "GET", "/status/503")
    check(len(errs) == 1 and errs[0]["error"].startswith("HTTP 503"), f"error rows {errs}")
    check_reconciles(summary, counts, [("GET", "/status/503", "GET /status/503")],
                     "nginx access log")


def test_json_to_stdout():
    with Target() as t:
        code, _, out, err = run_stormlight(["-H", t.url, "-u", "1", "-r", "10", "-t", "1s",
                                            "-q", "--json", "-"], TWO_ENDPOINTS,
                                           write_json=False)
    check_eq(code, 0, f"exit code (stderr {err.strip()[-300:]!r})")
    summary = harness.json_from_stdout(out)
    check(summary is not None, f"no summary JSON on stdout: {out[:500]!r}")
    check_summary(summary, "stdout summary")
    check(summary["total"]["num_requests"] > 0, "no requests in the stdout summary")


def test_spawn_schedule():
    """-u 5 -r 5: users start gradually (not all at once) and reach 5."""
    scenario = 'endpoints = { Task{"GET", "/delay/50"} }\n'
    samples = {}

    def during(proc, t0):
        # Each user holds one /delay/50 request at the target at almost every moment, so
        # the target's "held" gauge shows how many users are running.
        # A user is between two requests for a few microseconds in 50 ms, so take the
        # highest of three quick samples.
        for at in (0.6, 2.2):
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            seen = []
            for _ in range(3):
                seen.append(t.stats()["held"])
                time.sleep(0.01)
            samples[at] = max(seen)

    with Target() as t:
        summary, _, _ = run_ok(["-H", t.url, "-u", "5", "-r", "5", "-t", "3s", "-q"], scenario,
                               during=during)
        stats = t.stats()
    check_eq(summary["users"], 5, "users in the summary")
    check_eq(float(summary["spawn_rate"]), 5.0, "spawn_rate")
    check_between(samples[0.6], 1, 4, "users running after 0.6 s (spawn rate 5/s)")
    check_eq(samples[2.2], 5, "users running after 2.2 s")
    check_eq(stats["held_max"], 5, "most requests held at once (users never exceed 5)")
    row = find_row(summary, "GET", "/delay/50")
    check(row["num_requests"] >= 100, f"only {row['num_requests']} requests in 3 s")
    check(row["min_ms"] >= 50.0, f"min_ms {row['min_ms']} below the 50 ms delay")
    check_reconciles(summary, stats, [("GET", "/delay/50", "GET /delay/50")])


def test_duration_honoured():
    with Target() as t:
        summary, _, _ = run_ok(["-H", t.url, "-u", "2", "-r", "100", "-t", "2s", "-q"],
                               TWO_ENDPOINTS)
    wall = run_stormlight.last_wall_s
    # How soon the run ends after its 2 s is speed: looser under sanitizers (harness.py).
    check_between(wall, 2.0, speed_bound(3.5, 8.0), "wall time of a -t 2s run")
    check_between(summary["duration_s"], 2.0, speed_bound(2.5, 4.0), "duration_s")


def test_sigint_stops_gracefully():
    with Target() as t:
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "4", "-r", "100", "-t", "30s", "-q"], TWO_ENDPOINTS,
            interrupt_after=1.0, timeout=15)
        counts = t.counts()
    wall = run_stormlight.last_wall_s
    check(code in (0, 1), f"exit code {code} after SIGINT (negative = killed by the signal); "
                          f"stderr {err.strip()[-300:]!r}")
    check_summary(summary, "summary after SIGINT")
    check_between(summary["duration_s"], 0.8, 5.0, "duration_s")
    check(wall < speed_bound(5.0, 10.0), f"took {wall:.2f} s to stop after SIGINT")
    check(summary["total"]["num_requests"] > 0, "no requests before SIGINT")
    check_reconciles(summary, counts, TWO_PAIRS, "target count after SIGINT")


def test_sigterm_stops_gracefully():
    with Target() as t:
        box = {}

        def during(proc, t0):
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            box["sent"] = True

        code, summary, _, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "30s", "-q"], TWO_ENDPOINTS,
            during=during, timeout=15)
    check(box.get("sent"), "SIGTERM was sent during the run")
    check(code in (0, 1), f"exit code {code} after SIGTERM; stderr {err.strip()[-300:]!r}")
    check_summary(summary, "summary after SIGTERM")
    check(summary["duration_s"] < 5.0, f"duration_s {summary['duration_s']}")


def test_host_from_file_and_override():
    with Target() as t:
        in_file = f'host = "{t.url}"\n' + TWO_ENDPOINTS
        summary, _, _ = run_ok(["-u", "1", "-r", "10", "-t", "1s", "-q"], in_file)
        check_eq(summary["host"], t.url, "host taken from the file")
        check(summary["total"]["num_requests"] > 0, "no requests with the file's host")
        # --host wins over the file; the file's host (port 1) would fail every request.
        overridden = 'host = "http://127.0.0.1:1"\n' + TWO_ENDPOINTS
        summary, _, _ = run_ok(["-H", t.url, "-u", "1", "-r", "10", "-t", "1s", "-q"],
                               overridden)
        check_eq(summary["host"], t.url, "--host overrides the file")
        check_eq(summary["total"]["num_failures"], 0, "failures with --host override")


def test_task_fields():
    """name=, weight=, lower-case methods, string data and the default JSON content type."""
    scenario = """\
endpoints = {
  Task{"get", "/w3", weight = 3},
  Task{"GET", "/w1"},
  Task{"POST", "/form", data = "a=1&b=two", weight = 1,
       headers = {["Content-Type"] = "application/x-www-form-urlencoded"}},
  Task{"POST", "/json", data = {list = {1, 2, 3}, nested = {ok = true}}, name = "json-post"},
}
"""
    with Target() as t:
        summary, _, _ = run_ok(["-H", t.url, "-u", "2", "-r", "100", "-t", "2s", "-q",
                                "--seed", "7"], scenario)
        stats = t.stats()
    w3 = find_row(summary, "GET", "/w3")
    w1 = find_row(summary, "GET", "/w1")
    form_row = find_row(summary, "POST", "/form")
    named = find_row(summary, "POST", "json-post")
    check_eq(len(summary["stats"]), 4, "number of stats rows")
    for row in (w3, w1, form_row, named):
        check_eq(row["num_failures"], 0, f"{row['name']} failures")
    check(w1["num_requests"] > 30, f"/w1: only {w1['num_requests']} requests")
    check(form_row["num_requests"] > 0, "the /form task never ran")
    ratio = w3["num_requests"] / w1["num_requests"]
    check_between(ratio, 2.0, 4.5, "requests ratio of weight 3 to weight 1")
    check(named["num_requests"] > 0, "named task never ran")
    # Each row counts what the target received for its request, the named one included.
    check_reconciles(summary, stats, [("GET", "/w3", "GET /w3"), ("GET", "/w1", "GET /w1"),
                                      ("POST", "/form", "POST /form"),
                                      ("POST", "json-post", "POST /json")], "target count")
    check(stats.get("GET /w3", 0) > 0 and "get /w3" not in stats, "method not upper-cased")
    form = stats["last"]["POST /form"]
    check_eq(form["body"], "a=1&b=two", "string data sent as is")
    check_eq(form["headers"].get("content-type"), "application/x-www-form-urlencoded",
             "explicit Content-Type kept")
    js = stats["last"]["POST /json"]
    check_eq(json.loads(js["body"]), {"list": [1, 2, 3], "nested": {"ok": True}},
             "table data as JSON")
    check(re.match(r"application/json", js["headers"].get("content-type", "")) is not None,
          f"default Content-Type for table data: {js['headers'].get('content-type')!r}")


if __name__ == "__main__":
    harness.main()
