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

        for suffix in ["_stats.csv", "_failures.csv", "_exceptions.csv", "_stats_history.csv"]:
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
        with open(prefix + "_stats.csv") as f:
            rows = list(csv.DictReader(f))
        check_eq(rows[-1]["Name"], "Aggregated", "_stats.csv written after SIGHUP")
        check_eq(int(rows[-1]["Request Count"]), summary["total"]["num_requests"],
                 "_stats.csv total after SIGHUP")


harness.main()
