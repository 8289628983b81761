"""End-to-end: Locust command lines pasted as they are.

Locust's spellings run (--headless, -T/-E with space-separated lists, -s, --only-summary,
--exit-code-on-error, --locustfile); Locust flags with no equivalent get one line of
advice and exit 2; rows are listed by name, then method, as Locust lists them."""

import csv
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Target, check, check_eq, check_summary, describe,  # noqa: E402
                     run_stormlight)

TAGGED = """\
User{ tasks = {
  {function(u) u:get("/a") end, tags = {"a"}},
  {function(u) u:get("/b") end, tags = {"b"}},
  {function(u) u:get("/c") end, tags = {"c"}},
  {function(u) u:get("/d") end, tags = {"a", "d"}},
} }
"""


def test_a_pasted_locust_command_line_runs():
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["--headless", "--locustfile", "stormlight_file.lua", "-H", t.url, "-u", "2",
             "-r", "100", "--run-time", "1s", "-T", "a", "b", "-E", "d", "-s", "1s",
             "--only-summary"], TAGGED, timeout=20)
        counts = t.counts()
    check_eq(code, 0, f"exit code: {describe(code, s, out, err)}")
    check_summary(s)
    check(counts.get("GET /a", 0) > 0 and counts.get("GET /b", 0) > 0,
          f"-T a b runs the tasks tagged a and b: {counts}")
    check_eq(counts.get("GET /c", 0), 0, "a task tagged c")
    check_eq(counts.get("GET /d", 0), 0, "-E d excludes a task tagged a and d")
    check_eq(out.count("Aggregated"), 2, f"--only-summary: no live table, only the summary:\n{out}")


def test_exit_code_on_error():
    scenario = 'endpoints = { Task{"GET", "/status/503"} }\n'
    with Target() as t:
        args = ["-H", t.url, "-u", "1", "-r", "100", "-t", "500ms", "-q"]
        code, s, out, err = run_stormlight(args + ["--exit-code-on-error", "3"], scenario)
        check_eq(code, 3, f"a failed run with --exit-code-on-error 3: {describe(code, s, out, err)}")
        code, s, out, err = run_stormlight(args + ["--exit-code-on-error", "0"], scenario)
        check_eq(code, 0, f"--exit-code-on-error 0: {describe(code, s, out, err)}")
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "1", "-r", "100", "-t", "500ms", "-q", "--exit-code-on-error",
             "3"], 'endpoints = { Task{"GET", "/hello"} }\n')
        check_eq(code, 0, f"a run that passed: {describe(code, s, out, err)}")


def test_locust_flags_without_equivalent_get_advice():
    for flags, hint in [(["--web-login"], "web UI"),
                        (["--enable-rebalancing"], "rebalancing"),
                        (["--processes", "4"], "--threads"), (["-L", "DEBUG"], "log"),
                        (["--class-picker"], "--tags")]:
        code, s, out, err = run_stormlight(harness.usage_args() + flags,
                                           'endpoints = { Task{"GET", "/hello"} }\n',
                                           timeout=10)
        lines = [line for line in err.splitlines() if line.strip()]
        check_eq(code, 2, f"{flags}: exit code ({err.strip()!r})")
        check(len(lines) == 1, f"{flags}: one line, got {lines!r}")
        check(lines[0].startswith(f"stormlight: {flags[0] if flags[0] != '-L' else '--loglevel'}:")
              and hint in lines[0] and "unknown option" not in lines[0],
              f"{flags}: advice naming the flag and {hint!r}: {lines[0]!r}")


def test_rows_sorted_by_name_then_method():
    scenario = """\
endpoints = {
  Task{"GET", "/zeta"},
  Task{"POST", "/alpha"},
  Task{"GET", "/mid"},
  Task{"GET", "/alpha"},
  Task{"DELETE", "/mid"},
}
"""
    want = [("GET", "/alpha"), ("POST", "/alpha"), ("DELETE", "/mid"), ("GET", "/mid"),
            ("GET", "/zeta")]
    tmp = tempfile.mkdtemp(prefix="sl-locust-")
    try:
        prefix = os.path.join(tmp, "run")
        with Target() as t:
            code, s, out, err = run_stormlight(
                ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q", "--csv", prefix],
                scenario)
        check_summary(s)
        check_eq([(r["method"], r["name"]) for r in s["stats"]], want, "JSON stats order")
        with open(prefix + "_stats.csv") as f:
            rows = [(r["Type"], r["Name"]) for r in csv.DictReader(f)]
        check_eq(rows, want + [("", "Aggregated")], "_stats.csv order")
        table = [tuple(line.split()[:2]) for line in out.splitlines()
                 if line.split()[:2] and tuple(line.split()[:2]) in set(want)]
        # The statistics table, then the percentile table: each in the same order.
        check_eq(table, want + want, f"summary tables' order:\n{out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


harness.main()
