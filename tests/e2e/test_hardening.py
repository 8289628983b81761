"""End-to-end: hardening (issue "Hardening: hostile servers, hostile input, long runs").

- Signals: SIGINT and SIGTERM stop a run gracefully with every output written; a second
  SIGINT exits at once; SIGPIPE (a closed stdout, or the signal itself) never kills.
- Mistakes that tests/e2e/test_cli.py does not cover yet: each exits 2 with one stderr
  line that names the problem (the flag, the host, or file:line).
- Reconciliation per fault class when the run is stopped by SIGINT with work in flight,
  on two threads: tool <= target <= tool + in_flight_at_stop + retries, exactly where
  it is knowable.
- Bodies of tens of MiB, counted to the byte.
"""

import atexit
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (SL_BIN, Target, TestFailure, check, check_between, check_eq,  # noqa: E402
                     check_reconciles, check_summary, describe, errors_for, find_row,
                     run_stormlight)

GOOD = 'endpoints = { Task{"GET", "/hello"} }\n'
NOWHERE = harness.NOWHERE

_target = None


def target():
    """One sl_target for the whole file, reset before each use."""
    global _target
    if _target is None:
        _target = Target().__enter__()
        atexit.register(_stop_target)  # also when a filter skips test_zz_target_survived
    _target.reset()
    return _target


def _stop_target():
    global _target
    if _target is not None:
        _target.__exit__(None, None, None)
        returncode, _target = _target.returncode, None
        return returncode
    return None


def server_key(path, method="GET"):
    return f"{method} {path.split('?', 1)[0]}"


def scenario_for(paths):
    return "endpoints = {\n" + "".join(f'  Task{{"GET", "{p}"}},\n' for p in paths) + "}\n"


def signal_at(*schedule):
    """A `during` callback for run_stormlight: sends (seconds after start, signal) pairs."""
    def during(proc, t0):
        for at, sig in schedule:
            delay = at - (time.monotonic() - t0)
            if delay > 0:
                time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(sig)
    return during


class Run:
    """Starts the binary in a fresh temp dir with a scenario, for tests that need more
    control over the process than run_stormlight gives (pipes, limits, FIFOs)."""

    def __init__(self, args, scenario=GOOD, json=True, preexec_fn=None, stdout=None):
        self.dir = tempfile.mkdtemp(prefix="sl-hard-")
        if scenario is not None:
            harness.write_scenario(self.dir, scenario)
        self.json_path = os.path.join(self.dir, "summary.json")
        argv = [SL_BIN, *args] + (["--json", self.json_path] if json else [])
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=stdout if stdout is not None else subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn)

    def wait(self, timeout):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise TestFailure(f"stormlight did not exit within {timeout}s (a hang)")
        self.wall_s = time.monotonic() - self.t0
        return (self.proc.returncode, out.decode(errors="replace") if out else "",
                err.decode(errors="replace"))

    def summary(self):
        try:
            with open(self.json_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Signals

def graceful_stop(sig):
    t = target()
    paths = ["/", "/delay/20"]
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", "4", "-r", "100", "-t", "30s", "--threads", "2", "-q"],
        scenario_for(paths), timeout=20, during=signal_at((1.5, sig)))
    counts = t.counts()
    name = signal.Signals(sig).name
    check_eq(code, 0, f"{name}: exit code: {describe(code, summary, out, err)}")
    check(harness.run_stormlight.last_wall_s < harness.speed_bound(6.0, 12.0),
          f"{name}: took {harness.run_stormlight.last_wall_s:.1f}s to stop")
    check_summary(summary, name)
    check_between(summary["duration_s"], 1.3, harness.speed_bound(4.0, 6.0), f"{name}: duration_s")
    check("Aggregated" in out, f"{name}: the final summary table was not printed: {out[-500:]!r}")
    check(summary["total"]["num_requests"] > 0, f"{name}: no requests")
    check_reconciles(summary, counts, [("GET", p, server_key(p)) for p in paths], name)


def test_sigint_mid_run_is_graceful():
    graceful_stop(signal.SIGINT)


def test_sigterm_mid_run_is_graceful():
    graceful_stop(signal.SIGTERM)


def test_sigint_counts_requests_in_flight_exactly():
    """Every user waits on a server that never answers: nothing completes, so all of them
    are in flight at the stop, and the target saw exactly that many requests."""
    t = target()
    users = 5
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", str(users), "-r", "100", "-t", "30s", "--timeout", "60s",
         "--threads", "2", "-q"],
        scenario_for(["/fault/hang"]), timeout=20, interrupt_after=1.5)
    counts = t.counts()
    check_eq(code, 1, f"exit code (nothing completed: the run fails): "
                      f"{describe(code, summary, out, err)}")
    check_summary(summary)
    check_eq(find_row(summary, "GET", "/fault/hang")["num_requests"], 0, "completed requests")
    check_eq(summary["in_flight_at_stop"], users, "in_flight_at_stop")
    check_eq(summary["retries"], 0, "retries")
    check_eq(counts.get("GET /fault/hang", 0), users, "requests the target saw")


def test_second_sigint_exits_at_once():
    """The first SIGINT starts the graceful stop, which then blocks opening the JSON file
    (a FIFO nobody reads); the second SIGINT must end the process at once."""
    t = target()
    fifo_dir = tempfile.mkdtemp(prefix="sl-hard-fifo-")
    fifo = os.path.join(fifo_dir, "summary.json")
    os.mkfifo(fifo)
    run = Run(["-H", t.url, "-u", "2", "-r", "100", "-t", "30s", "-q", "--json", fifo],
              json=False)
    try:
        time.sleep(1.0)
        if run.proc.poll() is not None:
            raise TestFailure(f"exited before the first SIGINT: {run.wait(5)}")
        run.proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        if run.proc.poll() is not None:
            raise TestFailure("the first SIGINT did not leave the process blocked on the FIFO, "
                              f"so a second SIGINT cannot be told apart: {run.wait(5)}")
        sent = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        code, out, err = run.wait(10)
        took = time.monotonic() - sent
        check(took < harness.speed_bound(2.0, 5.0),
              f"the second SIGINT took {took:.1f}s to end the process")
        check(code > 0, f"exit code {code}: expected a non-zero exit (negative: killed by a "
                        f"signal) after a second SIGINT; stderr {err[-500:]!r}")
    finally:
        run.cleanup()
        shutil.rmtree(fifo_dir, ignore_errors=True)


def test_sigpipe_on_closed_stdout_does_not_kill():
    """stdout is a pipe whose reader went away: the live view and the summary fail to
    print, but the process must not die of SIGPIPE and the JSON must still be written."""
    t = target()
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first write
    run = Run(["-H", t.url, "-u", "2", "-r", "100", "-t", "3s"], stdout=w)
    os.close(w)
    try:
        code, _, err = run.wait(20)
        summary = run.summary()
        check(code in (0, 1), f"exit code {code} (negative: killed by a signal); "
                              f"stderr {err[-500:]!r}")
        check_summary(summary, "closed stdout")
        check(summary["total"]["num_requests"] > 0, "no requests")
    finally:
        run.cleanup()


def test_sigpipe_signal_is_ignored():
    t = target()
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", "2", "-r", "100", "-t", "2s", "-q"], GOOD, timeout=20,
        during=signal_at((0.5, signal.SIGPIPE), (1.0, signal.SIGPIPE)))
    check_eq(code, 0, f"exit code after SIGPIPE: {describe(code, summary, out, err)}")
    check_summary(summary)
    check_between(summary["duration_s"], 1.9, harness.speed_bound(3.0, 5.0),
                  "duration_s (the run went on)")


# ---------------------------------------------------------------------------------------
# People who make mistakes

def usage_error(args, scenario, names, what, timeout=15, max_wall_s=5.0, cwd=None,
                write_json=True):
    """Exit 2, one stderr line naming one of names, no summary, and quickly."""
    code, summary, out, err = run_stormlight(args, scenario, timeout=timeout, cwd=cwd,
                                             write_json=write_json)
    lines = [line for line in err.splitlines() if line.strip()]
    check_eq(code, 2, f"{what}: exit code (stderr {err.strip()[-500:]!r})")
    check(len(lines) == 1, f"{what}: expected one stderr line, got {lines!r}")
    check(any(n in lines[0] for n in names),
          f"{what}: stderr {lines[0]!r} does not name any of {names}")
    check(summary is None, f"{what}: a summary was written for a usage error")
    check(harness.run_stormlight.last_wall_s < max_wall_s,
          f"{what}: took {harness.run_stormlight.last_wall_s:.1f}s to refuse")
    return lines[0]


base = harness.usage_args


def test_host_does_not_resolve():
    # .invalid is reserved (RFC 6761): resolution fails locally.
    usage_error(base(H="http://no-such-host.invalid"), GOOD,
                ["no-such-host.invalid"], "--host that does not resolve")
    line = usage_error(base(H=None),
                       'host = "http://no-such-host.invalid:8080"\n' + GOOD,
                       ["no-such-host.invalid"], "host in the file that does not resolve")
    check("stormlight_file.lua" in line, f"the message does not name the file: {line!r}")


def test_users_over_open_file_limit():
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    run = Run(base(u="5000"), json=False, preexec_fn=low_limit)
    try:
        code, _, err = run.wait(15)
        lines = [line for line in err.splitlines() if line.strip()]
        check_eq(code, 2, f"-u 5000 with 256 files: exit code (stderr {err.strip()!r})")
        check(len(lines) == 1 and "--users" in lines[0],
              f"-u 5000 with 256 files: expected one line naming --users, got {lines!r}")
    finally:
        run.cleanup()
    # 100000 users: beyond this machine's hard limit, whatever it is here.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 100000:
        usage_error(base(u="100000"), GOOD, ["--users"], "-u 100000")


def test_zero_values_that_make_no_sense():
    usage_error(base() + ["--threads", "0"], GOOD, ["--threads"], "--threads 0")
    usage_error(base() + ["--timeout", "0"], GOOD, ["--timeout"], "--timeout 0")
    usage_error(base(t="0"), GOOD, ["--duration", "-t"], "-t 0")
    usage_error(base(r="0"), GOOD, ["--spawn-rate", "-r"], "-r 0")


def test_values_that_do_not_parse():
    usage_error(base(t="1h30x"), GOOD, ["--duration", "-t"], "-t 1h30x")
    usage_error(base() + ["--timeout", "-5s"], GOOD, ["--timeout"], "--timeout -5s")
    usage_error(base() + ["--threads", "two"], GOOD, ["--threads"], "--threads two")
    usage_error(base(u="-3"), GOOD, ["--users", "-u"], "-u -3")
    usage_error(base(u="1.5"), GOOD, ["--users", "-u"], "-u 1.5")
    usage_error(base(r="fast"), GOOD, ["--spawn-rate", "-r"], "-r fast")
    usage_error(base() + ["--seed", "-1"], GOOD, ["--seed"], "--seed -1")
    usage_error(base(H="127.0.0.1:8000"), GOOD, ["--host", "-H"], "--host without a scheme")
    usage_error(base(H=None), 'host = "localhost:8000"\n' + GOOD, ["stormlight_file.lua"],
                "host in the file without a scheme")


def test_missing_value():
    usage_error(["-H", NOWHERE, "-t", "1s", "-u"], GOOD, ["--users", "-u"], "-u at the end")
    usage_error(["-H", NOWHERE, "-t", "1s", "--threads"], GOOD, ["--threads"],
                "--threads at the end")


def test_json_into_missing_directory():
    # Checked before the run, like --csv and --html: refused at once, not after 5 s.
    usage_error(base(t="5s") + ["--json", "/nonexistent-dir/sub/summary.json"], GOOD,
                ["/nonexistent-dir/sub/summary.json"], "--json into a missing directory",
                max_wall_s=3.0, write_json=False)


def test_unreadable_scenario_file():
    tmp = tempfile.mkdtemp(prefix="sl-hard-")
    try:
        # A directory where the file should be: unreadable as a file, even for root.
        os.mkdir(os.path.join(tmp, "plan.lua"))
        usage_error(base() + ["-f", "plan.lua"], None, ["plan.lua"], "-f names a directory",
                    cwd=tmp)
        if os.geteuid() != 0:  # root reads a mode-000 file anyway
            path = harness.write_scenario(tmp, GOOD, name="locked.lua")
            os.chmod(path, 0)
            usage_error(base() + ["-f", path], None, [path], "-f to a mode-000 file")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_lua_error_while_loading():
    line = usage_error(base(), 'local x = 1\nerror("boom")\n' + GOOD,
                       ["stormlight_file.lua:2"], 'error("boom") on line 2')
    check("boom" in line, f"the message lost the error: {line!r}")
    line = usage_error(base(), 'local t = nil\n\nlocal y = t.field\n' + GOOD,
                       ["stormlight_file.lua:3"], "indexing nil on line 3")
    check("field" in line or "index" in line, f"unclear message: {line!r}")
    usage_error(base(), 'local function f()\n  error({code = 1})\nend\nf()\n',
                ["stormlight_file.lua:"], "a table raised as the error")


def test_endless_loop_while_loading():
    line = usage_error(base(), "local n = 0\nwhile true do\n  n = n + 1\nend\n",
                       ["stormlight_file.lua:"], "an endless loop", max_wall_s=20.0)
    check("too long" in line, f"unclear message for an endless loop: {line!r}")


WRONG_TYPES = [
    ('endpoints = {\n  Task{5, "/x"},\n}\n', "stormlight_file.lua:2", "method = 5"),
    ('endpoints = {\n  Task{"GET", {}},\n}\n', "stormlight_file.lua:2", "path = {}"),
    ('endpoints = {\n  Task{"GET", "x"},\n}\n', "stormlight_file.lua:2", "path without /"),
    ('endpoints = {\n  Task{"GET", "/a b"},\n}\n', "stormlight_file.lua:2", "path with a space"),
    ('endpoints = {\n  Task{"GET", "/", name = 7},\n}\n', "stormlight_file.lua:2", "name = 7"),
    ('endpoints = {\n  Task{"POST", "/", data = 5},\n}\n', "stormlight_file.lua:2", "data = 5"),
    ('endpoints = {\n\n  Task{"GET", "/", headers = {["X-A"] = {}}},\n}\n',
     "stormlight_file.lua:3", "header value {}"),
    ('endpoints = {\n  Task{"GET", "/", headers = {"X-A: 1"}},\n}\n',
     "stormlight_file.lua:2", "headers as a list"),
    ('endpoints = {\n  Task{"GET", "/", headers = {["X-A"] = "a\\r\\nB: c"}},\n}\n',
     "stormlight_file.lua:2", "header value with CRLF"),
    ('endpoints = {\n  Task{"GET", "/", weight = 1.5},\n}\n', "stormlight_file.lua:2",
     "weight = 1.5"),
    ('endpoints = {\n  Task{"GET", "/", weight = 0},\n}\n', "stormlight_file.lua:2", "weight = 0"),
    ('endpoints = {\n  Task{"GET", "/", header = {}},\n}\n', "stormlight_file.lua:2",
     "a misspelt field"),
    ('endpoints = {\n  Task("GET"),\n}\n', "stormlight_file.lua:2", "Task called with a string"),
    ('host = 5\n' + GOOD, "stormlight_file.lua", "host = 5"),
    ('endpoints = "GET /"\n', "stormlight_file.lua", "endpoints a string"),
    ('endpoints = { {"GET", "/"} }\n', "stormlight_file.lua", "an entry that is not a Task"),
]


def test_fields_of_the_wrong_type():
    for scenario, where, what in WRONG_TYPES:
        usage_error(base(), scenario, [where], what)


# ---------------------------------------------------------------------------------------
# Reconciliation per fault class, stopped by SIGINT with requests in flight, 2 threads

FAULTS = ["/fault/reset", "/fault/reset-mid", "/fault/close", "/fault/short",
          "/fault/badstatus", "/fault/garbage", "/fault/badchunk", "/fault/truncchunk",
          "/fault/bigheader", "/fault/hang", "/fault/drip"]
VALID = ["/idle-close", "/close", "/http10", "/chunked?n=50", "/continue", "/304",
         "/slow?ms=300"]


def reconcile_under_sigint(path, fault):
    t = target()
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", "6", "-r", "1000", "-t", "30s", "--timeout", "1s",
         "--threads", "2", "-q"],
        scenario_for([path]), timeout=20, interrupt_after=1.6)
    counts = t.counts()
    what = f"{path} (SIGINT)"
    check_summary(summary, what)
    row = find_row(summary, "GET", path)
    check(row["num_requests"] > 0, f"{what}: nothing completed: "
                                   f"{describe(code, summary, out, err)}")
    if fault:
        check_eq(code, 1, f"{what}: exit code: {describe(code, summary, out, err)}")
        check_eq(row["num_failures"], row["num_requests"], f"{what}: failures")
        check_eq(sum(e["occurrences"] for e in errors_for(summary, "GET", path)),
                 row["num_failures"], f"{what}: error occurrences")
    else:
        check_eq(code, 0, f"{what}: exit code: {describe(code, summary, out, err)}")
        check_eq(row["num_failures"], 0, f"{what}: failures")
    check(summary["in_flight_at_stop"] <= 6, f"{what}: in_flight_at_stop "
                                             f"{summary['in_flight_at_stop']} > 6 users")
    check_reconciles(summary, counts, [("GET", path, server_key(path))], f"{what} target")


def make_reconcile_test(path, fault):
    def test():
        reconcile_under_sigint(path, fault)
    return test


for _path in FAULTS + VALID:
    _name = "test_reconcile_" + _path.strip("/").split("?")[0].replace("/", "_").replace("-", "_")
    globals()[_name] = make_reconcile_test(_path, _path in FAULTS)


# ---------------------------------------------------------------------------------------
# Large bodies

def test_big_bodies_counted_exactly():
    t = target()
    size = 20000000
    path = f"/big?bytes={size}"
    code, summary, out, err = run_stormlight(
        ["-H", t.url, "-u", "2", "-r", "100", "-t", "3s", "--timeout", "20s", "-q"],
        scenario_for([path]), timeout=40)
    counts = t.counts()
    check_eq(code, 0, f"exit code: {describe(code, summary, out, err)}")
    check_summary(summary)
    row = find_row(summary, "GET", path)
    check(row["num_requests"] >= 2, f"only {row['num_requests']} requests of 20 MB")
    check_eq(row["avg_content_bytes"], size, "avg_content_bytes")
    check_eq(row["num_failures"], 0, "failures")
    check_reconciles(summary, counts, [("GET", path, "GET /big")], "target")


def test_zz_target_survived():
    if _target is not None:
        check_eq(_stop_target(), 0, "sl_target exit status (it must survive every test)")


harness.main()
