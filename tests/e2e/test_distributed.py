"""Distributed mode against a real Locust (Debian's python3-locust, 2.12.1).

A stormlight worker joins an unmodified Locust master: the master accepts it, sends it
the users, and its own --csv statistics show the worker's requests with exactly the
count the target served.
"""

import csv
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


if __name__ == "__main__":
    harness.main()
