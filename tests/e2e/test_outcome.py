"""End-to-end: what a run reports about itself, whatever happened in it.

Every output parses whatever bytes a name holds; script errors and runs in which nothing
completed fail; a percentile of nothing is never a number; SIGHUP stops like SIGTERM; the
summary says how many users ran at the peak and why the run stopped."""

import csv
import html.parser
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Target, check, check_eq, check_summary, describe,  # noqa: E402
                     find_row, run_stormlight)

FFFD = "\ufffd"
GOOD = 'endpoints = { Task{"GET", "/hello"} }\n'


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="sl-outcome-")
        return self.path

    def __exit__(self, *exc):
        if not os.environ.get("SL_KEEP_TMP"):
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def strict_utf8(path, what):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise harness.TestFailure(f"{what} is not valid UTF-8: {e}")


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


def test_names_that_are_not_utf8_give_valid_reports():
    # Latin-1 bytes: a row name in a Task{}, a csv() value used as a row name, a
    # r:failure() message and a script error's message.
    with TempDir() as tmp:
        with open(os.path.join(tmp, "names.csv"), "wb") as f:
            f.write(b"name\n/caf\xe9-csv\n")
        scenario = (b'local names = csv("names.csv")\n'
                    b'User{ tasks = { function(u)\n'
                    b'  local n = names()\n'
                    b'  local r = u:get("/a", {name = n.name})\n'
                    b'  r:failure("bad \\xff byte")\n'
                    b'  error("boom \\xfe")\n'
                    b'end } }\n'
                    b'endpoints = { Task{"GET", "/b", name = "/b-\\xe9t\\xe9"} }\n')
        with open(os.path.join(tmp, "stormlight_file.lua"), "wb") as f:
            f.write(scenario)
        prefix = os.path.join(tmp, "run")
        html_path = os.path.join(tmp, "report.html")
        with Target() as t:
            code, summary, out, err = run_stormlight(
                ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q", "--csv", prefix,
                 "--html", html_path], cwd=tmp, write_json=False)
            json_path = os.path.join(tmp, "s.json")
            code, _, out, err = run_stormlight(
                ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q", "--json", json_path],
                cwd=tmp, write_json=False)
        check(os.path.exists(json_path), f"no JSON written: {err[-500:]}")
        summary = json.loads(strict_utf8(json_path, "the JSON summary"))
        check_summary(summary)
        names = {r["name"] for r in summary["stats"]}
        check("/caf" + FFFD + "-csv" in names, f"csv() name with U+FFFD: {names}")
        check("/b-" + FFFD + "t" + FFFD in names, f"Task name with U+FFFD: {names}")
        check(any(e["error"] == "bad " + FFFD + " byte" for e in summary["errors"]),
              f"r:failure message: {summary['errors']}")
        check(any("boom " + FFFD in e["message"] for e in summary["exceptions"]),
              f"exception message: {summary['exceptions']}")

        for suffix in ["_stats.csv", "_failures.csv", "_exceptions.csv", "_stats_history.csv",
                       "_phases.csv"]:
            text = strict_utf8(prefix + suffix, suffix)
            list(csv.reader(io.StringIO(text)))
        stats = list(csv.DictReader(io.StringIO(strict_utf8(prefix + "_stats.csv", "csv"))))
        check("/caf" + FFFD + "-csv" in {r["Name"] for r in stats}, "csv name in _stats.csv")

        page = strict_utf8(html_path, "the HTML report")
        p = _Collect()
        p.feed(page)
        p.close()
        text = "".join(p.text)
        check("/caf" + FFFD + "-csv" in text, "csv name in the HTML report")
        check("bad " + FFFD + " byte" in text, "failure message in the HTML report")

def send_after(delay_s, sig):
    def during(proc, t0):
        time.sleep(max(0.0, delay_s - (time.monotonic() - t0)))
        if proc.poll() is None:
            proc.send_signal(sig)
    return during


def test_sighup_stops_gracefully():
    with TempDir() as tmp, Target() as t:
        prefix = os.path.join(tmp, "run")
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "30s", "-q", "--csv", prefix],
            GOOD, during=send_after(1.0, signal.SIGHUP), timeout=15)
        check_eq(code, 0, f"exit code after SIGHUP: {describe(code, summary, out, err)}")
        check_summary(summary, "summary after SIGHUP")
        check(summary["duration_s"] < 5.0, f"duration_s {summary['duration_s']}")
        check(summary["total"]["num_requests"] > 0, "requests before SIGHUP")
        check_eq(summary.get("stop_reason"), "signal", "stop_reason after SIGHUP")
        check_eq(summary.get("stop_signal"), "SIGHUP", "stop_signal")
        check("stopped by signal (SIGHUP)" in out, f"the summary header says why: {out[:400]!r}")
        with open(prefix + "_stats.csv") as f:
            rows = list(csv.DictReader(f))
        check_eq(rows[-1]["Name"], "Aggregated", "_stats.csv written after SIGHUP")
        check_eq(int(rows[-1]["Request Count"]), summary["total"]["num_requests"],
                 "_stats.csv total after SIGHUP")

def no_numbers(row, what):
    check(row["min_ms"] is None and row["max_ms"] is None and row["avg_ms"] is None,
          f"{what}: min/max/avg of nothing must be null: {row}")
    check(all(v is None for v in row["percentiles_ms"].values()),
          f"{what}: percentiles of nothing must be null: {row['percentiles_ms']}")
    check(all(v is None for v in row["service_percentiles_ms"].values()),
          f"{what}: service percentiles of nothing must be null")


def test_every_iteration_raising_fails_the_run():
    scenario = 'User{ tasks = { function(u) error("boom") end } }\n'
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q"], scenario, timeout=20)
    check_summary(s)
    check(sum(e["occurrences"] for e in s["exceptions"]) > 0, f"exceptions: {s['exceptions']}")
    check_eq(s["total"]["num_requests"], 0, "requests")
    check_eq(code, 1, f"exit code: {describe(code, s, out, err)}")
    no_numbers(s["total"], "total of a run without requests")
    check(s["send_lag_ms"]["99"] is None, f"send lag of nothing: {s['send_lag_ms']}")


def test_on_start_raising_fails_the_run():
    scenario = ('User{ on_start = function(u) error("no login") end,\n'
                '      tasks = { function(u) u:get("/hello") end } }\n')
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q"], scenario, timeout=20)
        check_summary(s)
        check_eq(s["total"]["num_failures"], 0, "failed requests")
        check(s["total"]["num_requests"] > 0, "requests went out")
        check_eq(sum(e["occurrences"] for e in s["exceptions"]), 2, "one on_start error a user")
        check_eq(code, 1, f"exit code: {describe(code, s, out, err)}")
        check("script error" in out, f"the summary says why the run fails: {out[-300:]!r}")
        # With thresholds, the thresholds decide, as before.
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q", "--threshold", "p95<10s"],
            scenario, timeout=20)
        check_eq(code, 0, f"exit code with a threshold that holds: {describe(code, s, out, err)}")


def test_server_that_never_answers_fails_the_run_and_shows_no_numbers():
    with TempDir() as tmp, Target() as t:
        prefix, html_path = os.path.join(tmp, "run"), os.path.join(tmp, "r.html")
        # Not -q: the live view (plain text here, every 2 s) must show no number either.
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "2500ms", "--timeout", "30s",
             "--seed", "1", "--csv", prefix, "--html", html_path],
            'endpoints = { Task{"GET", "/fault/hang"} }\n', timeout=20)
        check_summary(s)
        check_eq(s["total"]["num_requests"], 0, "completed requests")
        check(s["in_flight_at_stop"] > 0, "requests were in flight")
        check_eq(code, 1, f"exit code: {describe(code, s, out, err)}")
        no_numbers(s["total"], "total")
        for row in s["stats"]:
            no_numbers(row, "row " + row["name"])
        check(all(h["p50_ms"] is None for h in s["history"]), "history percentiles")
        check("0.00" not in out, f"a time printed for a percentile of nothing:\n{out}")
        tables = [line for line in out.splitlines() if "Aggregated" in line]
        check(len(tables) >= 3, f"live table, summary table, percentile table: {tables}")
        for line in tables:
            check(line.split("|")[-1].split() == ["-"] * 6 or line.split()[-12:-1] == ["-"] * 11,
                  f"dashes for times of nothing: {line!r}")
        check("no request completed" in out, f"the summary says why: {out[-300:]!r}")
        with open(prefix + "_stats.csv") as f:
            agg = list(csv.DictReader(f))[-1]
        for col in ["Median Response Time", "Average Response Time", "Min Response Time",
                    "Max Response Time", "50%", "99%", "100%"]:
            check_eq(agg[col], "N/A", f"_stats.csv {col}")
        with open(prefix + "_stats_history.csv") as f:
            for row in csv.DictReader(f):
                check_eq(row["50%"], "N/A", "history 50% of a quiet second")
                check_eq(row["Total Median Response Time"], "N/A", "history total median")
        with open(html_path) as f:
            page = f.read()
        check("<td>0.00</td>" not in page, "the HTML report shows 0.00 for nothing")
        check('<td class="none">-</td>' in page, "the HTML report shows - for nothing")

def header_of(out):
    lines = [line for line in out.splitlines() if line.startswith("stormlight ")]
    check(lines, f"no header in {out[:300]!r}")
    return lines[-1]  # the final summary's


def test_stages_report_peak_and_target_users():
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-r", "1000", "--stages", "1s:10,1s:10,1s:3", "-q"], GOOD, timeout=20)
    check_eq(code, 0, f"exit code: {describe(code, s, out, err)}")
    check_summary(s)
    check_eq(s.get("peak_users"), 10, "peak_users of a run that held 10 users")
    check_eq(s.get("target_users"), 10, "target_users: the largest stage")
    check_eq(s["users"], 10, "users: what the run asked for, not the last stage's 3")
    check_eq(s.get("stop_reason"), "duration", "stop_reason at the end of the stages")
    head = header_of(out)
    check("peak users 10 / 10" in head and "stopped by duration" in head, head)


def test_iterations_report_their_limit_and_stop_reason():
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "1000", "--iterations", "50", "-q"], GOOD, timeout=20)
    check_eq(code, 0, f"exit code: {describe(code, s, out, err)}")
    check_eq(s["total"]["num_requests"], 50, "requests")
    check_eq(s.get("stop_reason"), "iterations", "stop_reason")
    check_eq(s.get("iterations"), 50, "iterations")
    check_eq(s.get("peak_users"), 2, "peak_users of a run shorter than a second")
    head = header_of(out)
    check("/ 50 iterations" in head and "until stopped" not in head, head)
    check("stopped by iterations" in head, head)


def test_threshold_and_shape_stop_reasons():
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "1", "-r", "100", "-t", "20s", "-q", "--threshold", "max<1us",
             "--abort-on-threshold"], GOOD, timeout=20)
        check_eq(s.get("stop_reason"), "threshold", f"--abort-on-threshold: {describe(code, s, out, err)}")
        shape = GOOD + ("shape = function(t)\n"
                        "  if t < 1.5 then return 4, 100 end\n"
                        "  return nil\n"
                        "end\n")
        code, s, out, err = run_stormlight(["-H", t.url, "-u", "4", "-q"], shape, timeout=20)
        check_eq(s.get("stop_reason"), "shape", f"shape(): {describe(code, s, out, err)}")
        check_eq(s.get("peak_users"), 4, "peak_users of the shape")
        check_eq(s.get("target_users"), 4, "target_users of the shape")


harness.main()
