"""End-to-end: the command line (ARCHITECTURE.md part B, "Command line").

Bad usage and bad scenario files exit 2 with one stderr line that names the problem (the
option, or file:line); --help and --version exit 0.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Target, check, check_between, check_eq, check_summary,  # noqa: E402
                     run_stormlight)

# Nothing listens on port 1: if a bad invocation were accepted, the run would fail
# differently (exit 1) instead of hanging.
NOWHERE = harness.NOWHERE
GOOD = 'endpoints = { Task{"GET", "/hello"} }\n'


base = harness.usage_args


def usage_error(args, scenario, names, what):
    """Checks exit 2, one stderr line, mentioning one of names; no summary written."""
    code, summary, out, err = run_stormlight(args, scenario, timeout=10)
    lines = [line for line in err.splitlines() if line.strip()]
    check_eq(code, 2, f"{what}: exit code (stderr {err.strip()!r})")
    check(len(lines) == 1, f"{what}: expected one stderr line, got {lines!r}")
    check(any(n in lines[0] for n in names),
          f"{what}: stderr {lines[0]!r} does not name any of {names}")
    check(summary is None, f"{what}: a summary was written for a usage error")
    return lines[0]


def test_unknown_flag():
    usage_error(base() + ["--no-such-flag"], GOOD, ["--no-such-flag"], "unknown flag")


def test_users_not_a_number():
    usage_error(base(u="abc"), GOOD, ["--users", "-u"], "-u abc")


def test_users_zero():
    usage_error(base(u="0"), GOOD, ["--users", "-u"], "-u 0")


def test_spawn_rate_negative():
    usage_error(base(r="-1"), GOOD, ["--spawn-rate", "-r"], "-r -1")


def test_bad_duration():
    usage_error(base(t="5x"), GOOD, ["--duration", "--run-time", "-t", "5x"], "-t 5x")


def test_bad_host_scheme():
    usage_error(base(H="ftp://x"), GOOD, ["--host", "-H", "ftp://x"], "--host ftp://x")


def test_missing_scenario_file():
    usage_error(base(), None, ["stormlight_file.lua"], "no ./stormlight_file.lua")
    usage_error(base() + ["-f", "/nonexistent/dir/plan.lua"], None,
                ["/nonexistent/dir/plan.lua"], "-f to a missing file")


def test_lua_syntax_error():
    scenario = """\
-- a comment
endpoints = {
  Task{"GET", "/hello"} Task{"GET", "/other"},
}
"""
    usage_error(base(), scenario, ["stormlight_file.lua:3"], "Lua syntax error on line 3")


def test_task_field_wrong_type():
    scenario = """\
endpoints = {
  Task{"GET", "/hello"},
  Task{"GET", "/x", headers = 5},
}
"""
    usage_error(base(), scenario, ["stormlight_file.lua:3"], "headers = 5 on line 3")


def test_task_weight_wrong_type():
    scenario = 'endpoints = {\n  Task{"GET", "/hello", weight = "heavy"},\n}\n'
    usage_error(base(), scenario, ["stormlight_file.lua:2"], 'weight = "heavy" on line 2')


def test_no_endpoints():
    usage_error(base(), 'local x = 1\n', ["endpoints"], "no endpoints")


def test_empty_endpoints():
    usage_error(base(), 'endpoints = {}\n', ["endpoints"], "empty endpoints")


def test_no_host_anywhere():
    usage_error(base(H=None), GOOD, ["host"], "no host in the file or on the command line")


def test_help():
    code, _, out, err = run_stormlight(["--help"], None, timeout=10, write_json=False)
    check_eq(code, 0, "--help exit code")
    for flag in ["-f", "--file", "-H", "--host", "-u", "--users", "-r", "--spawn-rate", "-t",
                 "--duration", "--run-time", "--threads", "--timeout", "--json", "--insecure",
                 "--seed", "-q", "--quiet", "-h", "--help", "-V", "--version"]:
        check(flag in out, f"--help does not mention {flag}")
    code2, _, out2, _ = run_stormlight(["-h"], None, timeout=10, write_json=False)
    check_eq((code2, out2), (0, out), "-h is --help")


def test_version():
    for flag in ["--version", "-V"]:
        code, _, out, _ = run_stormlight([flag], None, timeout=10, write_json=False)
        check_eq(code, 0, f"{flag} exit code")
        check("0.2.0" in out, f"{flag} printed {out!r}")


def test_duration_forms():
    """A bare number is seconds, and --run-time is the same flag as -t."""
    with Target() as t:
        for args in (["-t", "1"], ["--run-time", "1s"]):
            code, summary, _, err = run_stormlight(
                ["-H", t.url, "-u", "1", "-r", "10", "-q", *args], GOOD, timeout=15)
            check_eq(code, 0, f"{args}: exit code (stderr {err.strip()!r})")
            check_summary(summary)
            check_between(summary["duration_s"], 1.0, harness.speed_bound(1.5, 3.0),
                          f"{args}: duration_s")


def test_fractional_spawn_rate_and_long_flags():
    with Target() as t:
        code, summary, _, err = run_stormlight(
            ["--host", t.url, "--users", "2", "--spawn-rate", "0.5", "--duration", "1s",
             "--quiet", "--threads", "1", "--timeout", "5s", "--seed", "1"], GOOD, timeout=15)
    check_eq(code, 0, f"exit code (stderr {err.strip()!r})")
    check_summary(summary)
    check_eq(float(summary["spawn_rate"]), 0.5, "spawn_rate")
    check_eq(summary["threads"], 1, "threads")


if __name__ == "__main__":
    harness.main()
