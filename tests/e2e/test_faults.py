"""End-to-end: every broken response is a counted failure, never a crash or a stall;
valid-but-unusual responses are successes (ARCHITECTURE.md part B, "A request fails ...").
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Target, check, check_eq, check_reconciles, check_summary,  # noqa: E402
                     describe, errors_for, find_row, run_stormlight)

# path -> run duration. Hanging and dripping requests need the 1 s --timeout to fire
# inside the run, so they get a longer one.
FAULTS = {
    "/fault/reset": "1s",
    "/fault/reset-mid": "1s",
    "/fault/close": "1s",
    "/fault/short": "1s",
    "/fault/badstatus": "1s",
    "/fault/garbage": "1s",
    "/fault/badchunk": "1s",
    "/fault/truncchunk": "1s",
    "/fault/bigheader": "1s",
    "/fault/hang": "2s",
    "/fault/drip": "2s",
}

# path -> (minimum requests in 1 s with 2 users, expected avg_content_bytes or None)
VALID = {
    "/chunked?n=5": (10, None),
    "/http10": (10, len("hello from HTTP/1.0\n")),
    "/close": (10, 11),
    "/idle-close": (10, 11),
    "/continue": (10, 11),
    "/204": (10, 0),
    "/304": (10, 0),
    "/big?bytes=1048576": (10, 1048576),
    "/redirect": (10, None),
    "/slow?ms=100": (6, 100),
}

_target = None


def target():
    """One target for the whole file, reset before each run."""
    global _target
    if _target is None:
        _target = Target().__enter__()
    _target.reset()
    return _target


def server_key(path):
    return "GET " + path.split("?", 1)[0]


def run_single(path, duration, timeout):
    t = target()
    scenario = f'endpoints = {{ Task{{"GET", "{path}"}} }}\n'
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", "2", "-r", "100", "-t", duration, "--timeout", timeout, "-q"],
        scenario, timeout=30)
    return code, summary, out, err, t.counts()


def make_fault_test(path, duration):
    def test():
        code, summary, out, err, counts = run_single(path, duration, "1s")
        check(code == 1,
              f"{path}: expected exit 1 (never a crash): {describe(code, summary, out, err)}")
        check_summary(summary, path)
        row = find_row(summary, "GET", path)
        check(row["num_requests"] > 0,
              f"{path}: no completed requests: {describe(code, summary, out, err)}")
        check_eq(row["num_failures"], row["num_requests"], f"{path} failures")
        errs = errors_for(summary, "GET", path)
        check(errs, f"{path}: no errors row: {summary['errors']}")
        check_eq(sum(e["occurrences"] for e in errs), row["num_failures"],
                 f"{path}: error occurrences")
        check_reconciles(summary, counts, [("GET", path, server_key(path))], f"{path} target")
    return test


def make_valid_test(path, min_requests, content_bytes):
    def test():
        code, summary, out, err, counts = run_single(path, "1s", "2s")
        check(code == 0, f"{path}: expected exit 0: {describe(code, summary, out, err)}")
        check_summary(summary, path)
        row = find_row(summary, "GET", path)
        check_eq(row["num_failures"], 0, f"{path} failures")
        check_eq(summary["errors"], [], f"{path} errors")
        check(row["num_requests"] >= min_requests,
              f"{path}: only {row['num_requests']} requests (a stall?)")
        if content_bytes is not None:
            check_eq(row["avg_content_bytes"], content_bytes, f"{path} avg_content_bytes")
        # For /idle-close the retry rule applies: retries may be > 0, never a failure.
        check(summary["retries"] >= 0, f"{path}: retries {summary['retries']}")
        check_reconciles(summary, counts, [("GET", path, server_key(path))], f"{path} target")
    return test


for _path, _duration in FAULTS.items():
    _name = "test_fault_" + _path.rsplit("/", 1)[1].replace("-", "_")
    globals()[_name] = make_fault_test(_path, _duration)

for _path, (_min, _bytes) in VALID.items():
    _name = "test_valid_" + _path.strip("/").split("?")[0].replace("-", "_")
    globals()[_name] = make_valid_test(_path, _min, _bytes)


def test_all_together():
    """Every fault and every unusual path in one run, many users: per-row verdicts hold."""
    t = target()
    paths = list(FAULTS) + list(VALID)
    scenario = "endpoints = {\n" + "".join(f'  Task{{"GET", "{p}"}},\n' for p in paths) + "}\n"
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", "16", "-r", "1000", "-t", "2s", "--timeout", "1s", "--threads", "2",
         "-q"], scenario, timeout=30)
    counts = t.counts()
    check(code == 1, f"expected exit 1: {describe(code, summary, out, err)}")
    check_summary(summary)
    for path in FAULTS:
        row = find_row(summary, "GET", path)
        check_eq(row["num_failures"], row["num_requests"], f"{path} failures")
    for path in VALID:
        row = find_row(summary, "GET", path)
        check_eq(row["num_failures"], 0, f"{path} failures")
        check_eq(errors_for(summary, "GET", path), [], f"{path} errors")
    check_reconciles(summary, counts, [("GET", p, server_key(p)) for p in paths], "target")


def test_connection_refused():
    """Nothing listening: every request is a connect failure; the run still ends on time."""
    port = harness.free_port()
    scenario = 'endpoints = { Task{"GET", "/hello"} }\n'
    code, summary, out, err = run_stormlight(
        ["-H", f"http://127.0.0.1:{port}", "-u", "2", "-r", "100", "-t", "1s", "-q"], scenario,
        timeout=30)
    check(code == 1, f"expected exit 1: {describe(code, summary, out, err)}")
    check_summary(summary)
    row = find_row(summary, "GET", "/hello")
    check(row["num_requests"] > 0, "no connect failures counted")
    check_eq(row["num_failures"], row["num_requests"], "failures")
    check(harness.run_stormlight.last_wall_s < harness.speed_bound(4.0, 8.0),
          f"took {harness.run_stormlight.last_wall_s:.1f} s")


def test_zz_target_survived():
    """The one target every test above shared is still running, still answers, and exits
    cleanly on SIGTERM: a fault that crashed it would otherwise only show up as later
    tests failing for the wrong reason, or not at all after the last one. With no target
    started (this test run alone, or the tests above never got to start it) there is
    nothing that survived, and that is a failure, not a pass."""
    global _target
    check(_target is not None, "no test started the target, so nothing survived")
    t, _target = _target, None
    try:
        check(t.proc.poll() is None, f"the target died during the tests (status "
                                     f"{t.proc.returncode}): {t.stderr_text()[-500:]!r}")
        check("last" in t.stats(), "the target still answers /__stats")
    finally:
        t.__exit__(None, None, None)
    check_eq(t.returncode, 0, "target exit status after SIGTERM")


if __name__ == "__main__":
    harness.main()
