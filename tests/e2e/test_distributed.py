"""Distributed mode: a stormlight worker under a real Locust master (Debian's
python3-locust, 2.12.1), and a stormlight master with stormlight workers, all on loopback
against the project's target.

- Under an unmodified Locust master the worker is accepted, runs the users it is sent, and
  the master's own --csv shows exactly the count the target served, no failures.
- A stormlight master with two workers: its JSON total == the target's count; -u is
  divided exactly (peak users 10); --iterations 101 gives exactly 101 requests in total;
  --expect-workers-max-wait gives up with exit 1 and a clear message.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import SL_BIN, Target, check, check_eq  # noqa: E402

PYTHON = "/usr/bin/python3"

LOCUSTFILE = """\
from locust import HttpUser, task, constant

class Api(HttpUser):
    wait_time = constant(0.05)

    @task
    def hello(self):
        self.client.get("/hello")
"""

SCENARIO = 'User{ name = "Api", wait = constant(0.05), tasks = { Task{"GET", "/hello"} } }\n'


def have_locust():
    return subprocess.run([PYTHON, "-c", "import locust"], capture_output=True).returncode == 0


def read_csv(path):
    with open(path, newline="") as f:
        return {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}


def test_worker_joins_a_locust_master():
    if not have_locust():
        print("skip: python3-locust is not installed (scripts/install-deps.sh test)")
        return
    with tempfile.TemporaryDirectory() as d, Target() as t:
        with open(os.path.join(d, "locustfile.py"), "w") as f:
            f.write(LOCUSTFILE)
        harness.write_scenario(d, SCENARIO, "w.lua")
        port = harness.free_port()
        master_err = open(os.path.join(d, "master.err"), "w+")
        master = subprocess.Popen(
            [PYTHON, "-m", "locust", "-f", os.path.join(d, "locustfile.py"), "--master",
             "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--headless",
             "-u", "4", "-r", "4", "-t", "5s", "--expect-workers", "1", "--csv",
             os.path.join(d, "m"), "-H", t.url],
            stdout=subprocess.DEVNULL, stderr=master_err, stdin=subprocess.DEVNULL, cwd=d)
        worker = None
        try:
            time.sleep(1.0)
            worker = subprocess.Popen(
                [SL_BIN, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                 "-f", os.path.join(d, "w.lua"), "-H", t.url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            w_out, w_err = worker.communicate(timeout=60)
            master.wait(timeout=30)
        finally:
            for p in (worker, master):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()
        master_err.seek(0)
        log = master_err.read()
        w_err = w_err.decode(errors="replace")
        check_eq(worker.returncode, 0, f"the worker's exit code (stderr: {w_err!r})")
        check("joined the master" in w_err, f"the worker says it joined: {w_err!r}")
        check("reported as ready" in log, f"the Locust master accepted the worker: {log[-2000:]}")
        check_eq(master.returncode, 0, f"the Locust master's exit code: {log[-2000:]}")
        rows = read_csv(os.path.join(d, "m_stats.csv"))
        served = t.count("GET /hello")
        check(served > 0, "the target served requests")
        check(("GET", "/hello") in rows, f"the master's CSV has the worker's row: {rows.keys()}")
        row = rows[("GET", "/hello")]
        check_eq(int(row["Request Count"]), served, "the master's count == the target's count")
        check_eq(int(row["Failure Count"]), 0, "no failures")
        check_eq(int(rows[("", "Aggregated")]["Request Count"]), served, "the aggregated count")
        # The master's mean is Locust's own total_response_time / count: in range.
        check(0 < float(row["Average Response Time"]) < 5000, f"a plausible mean: {row}")



def run_master_and_workers(t, d, master_args, nworkers=2):
    """A stormlight master and nworkers stormlight workers on loopback; returns the master's
    (code, summary, stderr) and the workers' (code, stderr) list."""
    scenario = harness.write_scenario(d, SCENARIO, "w.lua")
    port = harness.free_port()
    json_path = os.path.join(d, "m.json")
    master = subprocess.Popen(
        [SL_BIN, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "-f", scenario, "-H", t.url, "--expect-workers", str(nworkers),
         "--expect-workers-max-wait", "30s", "-q", "--json", json_path, *master_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    workers = []
    try:
        for _ in range(nworkers):
            workers.append(subprocess.Popen(
                [SL_BIN, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                 "-f", scenario, "-H", t.url],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL))
        _, m_err = master.communicate(timeout=90)
        results = [(w.wait(timeout=30), w.stderr.read().decode(errors="replace"))
                   for w in workers]
    finally:
        for p in [master, *workers]:
            if p.poll() is None:
                p.kill()
                p.wait()
    m_err = m_err.decode(errors="replace")
    summary = None
    if os.path.exists(json_path):
        with open(json_path) as f:
            summary = json.load(f)
    return master.returncode, summary, m_err, results


def test_master_with_two_workers_counts_exactly():
    with tempfile.TemporaryDirectory() as d, Target() as t:
        code, s, err, workers = run_master_and_workers(t, d, ["-u", "10", "-r", "10", "-t", "4s"])
        check_eq(code, 0, f"the master's exit code: {err}")
        for wc, werr in workers:
            check_eq(wc, 0, f"a worker's exit code: {werr}")
        check(err.count(" joined (") == 2, f"two workers joined: {err}")
        check("workers: 2 joined, 0 lost" in err, f"the master's closing line: {err}")
        served = t.count("GET /hello")
        check(served > 0, "the target served requests")
        check_eq(s["total"]["num_requests"], served, "the master's total == the target's count")
        check_eq(s["total"]["num_failures"], 0, "no failures")
        row = harness.find_row(s, "GET", "/hello")
        check_eq(row["num_requests"], served, "the row's count")
        check_eq(s["peak_users"], 10, "the users were divided to exactly -u")
        check_eq(s["stop_reason"], "duration", "the run ended at -t")


def test_master_iterations_are_exact_in_total():
    with tempfile.TemporaryDirectory() as d, Target() as t:
        code, s, err, workers = run_master_and_workers(
            t, d, ["-u", "4", "-r", "100", "--iterations", "101", "-t", "60s"])
        check_eq(code, 0, f"the master's exit code: {err}")
        check_eq(t.count("GET /hello"), 101, "the target saw exactly --iterations requests")
        check_eq(s["total"]["num_requests"], 101, "the master counted exactly 101")


def test_master_gives_up_waiting_for_workers():
    with tempfile.TemporaryDirectory() as d:
        scenario = harness.write_scenario(d, SCENARIO, "w.lua")
        p = subprocess.run(
            [SL_BIN, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
             str(harness.free_port()), "-f", scenario, "-H", "http://127.0.0.1:9",
             "--expect-workers", "2", "--expect-workers-max-wait", "1s", "-q"],
            capture_output=True, timeout=30)
        err = p.stderr.decode(errors="replace")
        check_eq(p.returncode, 1, f"exit 1 as Locust: {err}")
        check("0 of 2 workers joined" in err, f"a clear message: {err}")


def test_worker_killed_mid_run_is_reported_and_its_users_move():
    with tempfile.TemporaryDirectory() as d, Target() as t:
        scenario = harness.write_scenario(d, SCENARIO, "w.lua")
        port = harness.free_port()
        json_path = os.path.join(d, "m.json")
        master = subprocess.Popen(
            [SL_BIN, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
             str(port), "-f", scenario, "-H", t.url, "--expect-workers", "2", "-q", "--json",
             json_path, "-u", "10", "-r", "100", "-t", "9s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        workers = [subprocess.Popen(
            [SL_BIN, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
             "-f", scenario, "-H", t.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            for _ in range(2)]
        try:
            time.sleep(3.5)
            workers[0].kill()  # SIGKILL, by its PID
            workers[0].wait()
            _, err = master.communicate(timeout=60)
            workers[1].wait(timeout=30)
        finally:
            for p in [master, *workers]:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        err = err.decode(errors="replace")
        check_eq(master.returncode, 0, f"the run completes without the lost worker: {err}")
        check("is lost" in err, f"the master reports the lost worker: {err}")
        check("workers: 2 joined, 1 lost" in err, f"the master's closing line: {err}")
        with open(json_path) as f:
            s = json.load(f)
        served = t.count("GET /hello")
        counted = s["total"]["num_requests"]
        # The killed worker's requests after its last report (at most about a second
        # of 5 users at 20/s each) are served but never reported; nothing is counted twice.
        check(counted <= served, f"no request counted twice: {counted} <= {served}")
        check(served - counted <= 400, f"only the last report is missing: {served} - {counted}")
        # The last point is the stop's (0 users); the one before, the survivor's last tick.
        check_eq(s["history"][-2]["users"], 10, "the survivor runs all 10 users at the end")


def test_workers_stop_when_the_master_is_gone():
    with tempfile.TemporaryDirectory() as d, Target() as t:
        scenario = harness.write_scenario(d, SCENARIO, "w.lua")
        port = harness.free_port()
        master = subprocess.Popen(
            [SL_BIN, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
             str(port), "-f", scenario, "-H", t.url, "-q", "-u", "2", "-r", "100", "-t", "60s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        worker = subprocess.Popen(
            [SL_BIN, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
             "-f", scenario, "-H", t.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            time.sleep(3)
            master.kill()
            master.wait()
            t0 = time.monotonic()
            _, err = worker.communicate(timeout=40)
            took = time.monotonic() - t0
        finally:
            for p in (master, worker):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        err = err.decode(errors="replace")
        check_eq(worker.returncode, 1, f"the worker exits 1: {err}")
        check("sent nothing for 10 s" in err, f"the worker says why: {err}")
        check(took < 30, f"within the timeout ({took:.1f} s)")
        before = t.count("GET /hello")
        time.sleep(0.5)
        check_eq(t.count("GET /hello"), before, "no more requests once the worker exited")


PY_WORKER_FILE = LOCUSTFILE.replace('"/hello"', '"/py"')


def test_master_merges_a_locust_worker_next_to_a_stormlight_worker():
    if not have_locust():
        print("skip: python3-locust is not installed (scripts/install-deps.sh test)")
        return
    with tempfile.TemporaryDirectory() as d, Target() as t:
        scenario = harness.write_scenario(d, SCENARIO, "w.lua")
        with open(os.path.join(d, "locustfile.py"), "w") as f:
            f.write(PY_WORKER_FILE)
        port = harness.free_port()
        json_path = os.path.join(d, "m.json")
        master = subprocess.Popen(
            [SL_BIN, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
             str(port), "-f", scenario, "-H", t.url, "--expect-workers", "2", "-q", "--json",
             json_path, "-u", "6", "-r", "100", "-t", "4s", "-s", "1s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        workers = [
            subprocess.Popen([SL_BIN, "--worker", "--master-host", "127.0.0.1", "--master-port",
                              str(port), "-f", scenario, "-H", t.url],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL),
            subprocess.Popen([PYTHON, "-m", "locust", "-f", os.path.join(d, "locustfile.py"),
                              "--worker", "--master-host", "127.0.0.1", "--master-port",
                              str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, cwd=d)]
        try:
            _, err = master.communicate(timeout=60)
            codes = [w.wait(timeout=30) for w in workers]
        finally:
            for p in [master, *workers]:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        err = err.decode(errors="replace")
        check_eq(master.returncode, 0, f"the master's exit code: {err}")
        check_eq(codes, [0, 0], "both workers exit 0 on quit")
        with open(json_path) as f:
            s = json.load(f)
        hello, py = t.count("GET /hello"), t.count("GET /py")
        check(hello > 0 and py > 0, f"both workers made requests: {hello}, {py}")
        check_eq(harness.find_row(s, "GET", "/hello")["num_requests"], hello,
                 "the stormlight worker's row (exact)")
        check_eq(harness.find_row(s, "GET", "/py")["num_requests"], py,
                 "the Locust worker's row, from its own report format")
        check_eq(s["total"]["num_requests"], hello + py, "the merged total")


if __name__ == "__main__":
    harness.main()
