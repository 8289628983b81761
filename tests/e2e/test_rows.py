"""End-to-end: many request names. Rows grow with the names up to --max-rows, the rest
share one overflow row, nothing is lost, and the summary points at the scenario line that
made the names; under a memory limit the run stops and still writes its reports.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (SL_BIN, Target, check, check_eq, check_summary, describe,  # noqa: E402
                     find_row, run_stormlight, usage_args)

OVERFLOW = "(other names, past --max-rows {})"

# One user walks ids 1..5000 and starts over: with --iterations 6000, ids 1..1000 are met
# twice and 1001..5000 once, so every row's count is known exactly.
UNGROUPED = """\
local k = 0
User{
  tasks = {function(u)
    u:get("/hello?id=" .. (k % 5000 + 1))
    k = k + 1
  end},
}
"""
UNGROUPED_LINE = 4  # the u:get line above


def test_5000_ungrouped_names():
    with Target() as t:
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "1", "-r", "10", "--iterations", "6000", "--threads", "1",
             "-q"], UNGROUPED)
        served = t.count("GET /hello")
    check(code == 0, describe(code, summary, out, err))
    check_summary(summary)
    total = summary["total"]["num_requests"]
    check_eq(total, 6000, "requests")
    check_eq(sum(r["num_requests"] for r in summary["stats"]), total, "rows add up to the total")
    check(total <= served <= total + summary["retries"],
          f"the target served {served}, the tool counted {total}")
    # 2000 rows of their own, then one overflow row.
    check_eq(summary["max_rows"], 2000, "max_rows")
    check_eq(len(summary["stats"]), 2001, "rows")
    overflow = find_row(summary, "*", OVERFLOW.format(2000))
    check_eq(summary["overflow_row"], OVERFLOW.format(2000), "overflow_row")
    # ids 1..1000 twice, 1001..2000 once: 3000 in their own rows, the rest overflowed.
    check_eq(find_row(summary, "GET", "/hello?id=1")["num_requests"], 2, "id=1")
    check_eq(find_row(summary, "GET", "/hello?id=1000")["num_requests"], 2, "id=1000")
    check_eq(find_row(summary, "GET", "/hello?id=2000")["num_requests"], 1, "id=2000")
    check_eq(overflow["num_requests"], 3000, "overflow row requests")
    check(overflow["percentiles_ms"]["50"] is not None and overflow["max_ms"] > 0,
          f"the overflow row has statistics like any other: {overflow}")
    hint = summary["row_hint"]
    check(hint is not None, "a row hint")
    check_eq(hint["method"], "GET", "hint method")
    check_eq(hint["pattern"], "/hello?id={id}", "hint pattern")
    check_eq(hint["rows"], 2000, "hint rows")
    check(hint["origin"].endswith(f"stormlight_file.lua:{UNGROUPED_LINE}"),
          f"hint origin names the scenario line: {hint['origin']}")
    # The text summary says both, once each.
    check_eq(out.count("WARNING: more than 2000 request names"), 1, "overflow warning")
    check_eq(out.count("NOTE: 2000 rows look like GET /hello?id={id}"), 1, "hint")
    check(f'{{name = "/hello?id={{id}}"}}' in out, f"the hint suggests name=: {out[:600]}")


def test_max_rows_flag_and_named_requests_keep_one_row():
    scenario = """\
local k = 0
User{
  tasks = {function(u)
    k = k + 1
    u:get("/hello?id=" .. k, {name = "/hello?id={id}"})
    u:get("/hello?n=" .. (k % 7))
  end},
}
"""
    with Target() as t:
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "1", "-r", "10", "--iterations", "300", "--threads", "1",
             "-q", "--max-rows", "5"], scenario)
    check(code == 0, describe(code, summary, out, err))
    check_eq(summary["max_rows"], 5, "max_rows")
    check_eq(find_row(summary, "GET", "/hello?id={id}")["num_requests"], 300, "named row")
    # Names /hello?n=1..4 get the 4 rows left; n=0,5,6 go to the overflow row.
    check_eq(len(summary["stats"]), 6, "rows")
    over = find_row(summary, "*", OVERFLOW.format(5))["num_requests"]
    kept = sum(find_row(summary, "GET", f"/hello?n={n}")["num_requests"] for n in range(1, 5))
    check_eq(kept + over, 300, "unnamed requests")
    check_eq(over, sum(1 for k in range(1, 301) if k % 7 in (0, 5, 6)), "overflowed")
    check(summary["row_hint"] is None, f"7 names are no hint: {summary['row_hint']}")


def test_task_rows_over_max_rows_is_a_usage_error():
    scenario = "endpoints = {\n" + "".join(
        f'  Task{{"GET", "/hello", name = "r{i}"}},\n' for i in range(4)) + "}\n"
    code, summary, out, err = run_stormlight(usage_args() + ["--max-rows", "3"], scenario)
    check_eq(code, 2, f"exit code: {err}")
    check("4 request rows, more than --max-rows 3" in err, f"message: {err}")
    for bad in ("0", "x", "100001"):
        code, _, _, err = run_stormlight(usage_args() + ["--max-rows", bad], scenario)
        check_eq(code, 2, f"--max-rows {bad}: {err}")
        check("--max-rows" in err, f"--max-rows {bad}: {err}")


def test_out_of_memory_stops_the_run_and_writes_the_reports():
    # ASan and TSan reserve terabytes of address space: an address-space limit means
    # nothing to them, so this runs in the normal build only.
    if os.environ.get("SL_SANITIZE"):
        print("skipped under sanitizers (RLIMIT_AS)")
        return
    # Every request a new name, no row limit: memory grows until the limit stops it.
    scenario = """\
local k = 0
User{ tasks = {function(u) k = k + 1; u:get("/hello/" .. k .. "/" .. string.rep("x", 2000)) end} }
"""
    tmp = tempfile.mkdtemp(prefix="sl-oom-")
    path = os.path.join(tmp, "s.lua")
    with open(path, "w") as f:
        f.write(scenario)
    json_path = os.path.join(tmp, "out.json")
    # About 200 MiB of address space is taken before the first request (two threads'
    # malloc arenas, the 64 MiB held back for the reports, the binary); rows of 2 KB
    # names then fill the rest within seconds, long before --max-rows would stop them.
    limit = 320 * 1024 * 1024

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with Target() as t:
        proc = subprocess.run(
            [SL_BIN, "-f", path, "-H", t.url, "-u", "4", "-r", "100", "-t", "60s",
             "--threads", "2", "-q", "--max-rows", "100000", "--json", json_path],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=90, preexec_fn=cap)
    err = proc.stderr.decode(errors="replace")
    check_eq(proc.returncode, 1, f"exit code (not a crash): {err[-1500:]}")
    check("out of memory: the run stopped early" in err, f"message: {err[-1500:]}")
    with open(json_path) as f:
        summary = json.load(f)
    check_summary(summary)
    check(summary["duration_s"] < 55, f"stopped early: {summary['duration_s']} s")
    check_eq(summary["stop_reason"], "memory", "stop_reason")
    check(isinstance(summary["unrecorded_requests"], int), "unrecorded_requests is a count")
    check(summary["total"]["num_requests"] > 0, "what was recorded is reported")


if __name__ == "__main__":
    harness.main()
