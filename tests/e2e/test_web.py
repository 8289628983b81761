"""The web UI and its HTTP API (docs/web.md), driven for real: Locust 2.12's routes with
urllib against the real binary and the project's target, the live events (SSE), the
Prometheus text checked by `promtool` and scraped by a real `prometheus` server, and the
page itself in Chromium through Selenium."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import Target, check, check_eq

SCENARIO = """\
endpoints = {
  Task{"GET", "/hello"},
  Task{"GET", "/status/503"},
}
"""

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(base, path, timeout=5):
    with OPENER.open(base + path, timeout=timeout) as r:
        return r.read().decode()


def get_json(base, path):
    return json.loads(get(base, path))


def swarm(base, **fields):
    body = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(base + "/swarm", data=body, method="POST")
    try:
        with OPENER.open(req, timeout=5) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def wait_state(base, states, seconds):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = get_json(base, "/stats/requests")
        if last["state"] in states:
            return last
        time.sleep(0.1)
    raise harness.TestFailure(f"state not in {states} after {seconds}s: {last and last['state']}")


def metric_values(text, name):
    """{label text: value} of one metric family's samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name):].rsplit(" ", 1)
            out[labels] = float(value)
    return out


class Web:
    """stormlight --web on a free loopback port, with the scenario in a temp dir."""

    def __init__(self, target, extra=(), scenario=SCENARIO):
        self.dir = tempfile.mkdtemp(prefix="sl-web-")
        harness.write_scenario(self.dir, scenario)
        self.port = harness.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.json_path = os.path.join(self.dir, "summary.json")
        self.argv = [harness.SL_BIN, "-H", target.url, "--web-host", "127.0.0.1",
                     "--web-port", str(self.port), "-q", "--json", self.json_path, *extra]

    def __enter__(self):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        harness.wait_for_port(self.port, 10, self.proc)
        return self

    def summary(self):
        with open(self.json_path) as f:
            return json.load(f)

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def stop(self, sig=signal.SIGINT, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise harness.TestFailure(f"stormlight --web did not exit after {sig}: {self.stderr()}")

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def rows_of(stats):
    return {(s["method"], s["name"]): s for s in stats["stats"]}


def test_locust_api_start_stop_reset_and_downloads():
    with Target() as t, Web(t) as w:
        first = get_json(w.base, "/stats/requests")
        check_eq(first["state"], "ready", "state before a start")
        check_eq(first["stats"], [], "no rows before a start")
        check_eq(first["workers"], [], "workers of one process")
        for bad, why in [({"user_count": "x", "spawn_rate": "1"}, "user_count"),
                         ({"user_count": "2", "spawn_rate": "1", "run_time": "soon"}, "run_time"),
                         ({"user_count": "2", "spawn_rate": "1", "host": "http://elsewhere"},
                          "host")]:
            r = swarm(w.base, **bad)
            check(r["success"] is False and why in r["message"], f"{bad}: {r}")
        check_eq(get_json(w.base, "/stats/requests")["state"], "ready", "bad forms start nothing")

        # A page of another site may not start a test (a browser sends its Origin).
        req = urllib.request.Request(w.base + "/swarm", data=b"user_count=2&spawn_rate=5",
                                     method="POST", headers={"Origin": "http://evil.example"})
        try:
            OPENER.open(req, timeout=5)
            check(False, "a foreign Origin was accepted")
        except urllib.error.HTTPError as e:
            check_eq(e.code, 403, "a foreign Origin")
        check_eq(get_json(w.base, "/stats/requests")["state"], "ready", "it started nothing")
        r = swarm(w.base, user_count=2, spawn_rate=50, host=t.url, run_time="2s")
        check(r["success"] is True and r["message"] == "Swarming started", f"swarm: {r}")
        check_eq(r["host"], t.url, "the host in the answer")
        end = wait_state(w.base, {"stopped"}, 20)
        summary = w.summary()
        api = rows_of(end)
        check_eq(api[("", "Aggregated")]["num_requests"], summary["total"]["num_requests"],
                 "Aggregated requests == the JSON summary's")
        for row in summary["stats"]:
            a = api[(row["method"], row["name"])]
            check_eq(a["num_requests"], row["num_requests"], f"{row['name']} requests")
            check_eq(a["num_failures"], row["num_failures"], f"{row['name']} failures")
        check(summary["total"]["num_requests"] > 100, f"requests ran: {summary['total']}")
        check_eq(end["stats"][-1]["name"], "Aggregated", "the Aggregated row comes last")
        check_eq([e["error"] for e in end["errors"]], ["HTTP 503 Service Unavailable"], "errors")
        check_eq(end["errors"][0]["occurrences"], api[("GET", "/status/503")]["num_failures"],
                 "error occurrences")
        check(abs(end["fail_ratio"] - 0.5) < 0.05, f"fail_ratio {end['fail_ratio']}")

        # CSV downloads: Locust's columns, the same counts.
        rows = list(csv.DictReader(io.StringIO(get(w.base, "/stats/requests/csv"))))
        check_eq({(r["Type"], r["Name"]): int(r["Request Count"]) for r in rows},
                 {k: v["num_requests"] for k, v in api.items()}, "requests CSV")
        fails = list(csv.DictReader(io.StringIO(get(w.base, "/stats/failures/csv"))))
        check_eq([(f["Name"], int(f["Occurrences"])) for f in fails],
                 [("/status/503", api[("GET", "/status/503")]["num_failures"])], "failures CSV")
        check_eq(get(w.base, "/exceptions/csv").splitlines()[0], "Count,Message,Traceback,Nodes",
                 "exceptions CSV header")
        check_eq(get_json(w.base, "/exceptions"), {"exceptions": []}, "/exceptions")
        check("<html" in get(w.base, "/stats/report"), "/stats/report is the HTML report")
        check_eq(get_json(w.base, "/stats/summary.json")["total"]["num_requests"],
                 summary["total"]["num_requests"], "JSON summary download")

        # Prometheus text: valid for promtool, counters equal to the run's counts.
        metrics = get(w.base, "/metrics")
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=metrics.encode(),
                               capture_output=True, timeout=20)
            check_eq(p.returncode, 0, f"promtool check metrics: {p.stdout!r} {p.stderr!r}")
        else:
            print("skip promtool: not installed (apt-get install prometheus)")
        req = metric_values(metrics, "stormlight_requests_total")
        check_eq(req, {f'{{method="GET",name="{r["name"]}"}}': float(r["num_requests"])
                       for r in summary["stats"]}, "stormlight_requests_total")
        inf = metric_values(metrics, "stormlight_response_time_seconds_bucket")
        check_eq(inf['{method="GET",name="/hello",le="+Inf"}'],
                 float(api[("GET", "/hello")]["num_requests"]), "+Inf bucket == count")
        run1 = sum(req.values())

        # A second run ("New test"): reset stats in the middle, stop it from the API.
        t.reset()
        r = swarm(w.base, user_count=2, spawn_rate=50)
        check(r["success"], f"second swarm: {r}")
        wait_state(w.base, {"running"}, 10)
        time.sleep(1.5)
        before = get_json(w.base, "/stats/requests")["stats"][-1]["num_requests"]
        check_eq(get(w.base, "/stats/reset"), "ok", "/stats/reset answer")
        time.sleep(1.2)
        check_eq(get_json(w.base, "/stop"), {"success": True, "message": "Test stopped"}, "/stop")
        end2 = wait_state(w.base, {"stopped"}, 20)
        after = end2["stats"][-1]["num_requests"]
        served = sum(t.counts().values())
        run2 = sum(metric_values(get(w.base, "/metrics"), "stormlight_requests_total").values())
        run2 -= run1
        check(before > 0, f"requests before the reset: {before}")
        check(after < run2, f"the table was reset ({after}) but the counters were not ({run2})")
        check(run2 <= served <= run2 + 2, f"counters since the start {run2}, server saw {served}")
        rc = w.stop()
        check_eq(rc, 1, f"exit code of a run with failures ({w.stderr()[-400:]!r})")


def read_events(base, seconds, headers=None):
    """The SSE stream for a few seconds: [(event, id, data)]."""
    events = []
    try:
        req = urllib.request.Request(base + "/events", headers=headers or {})
        with OPENER.open(req, timeout=seconds) as r:
            deadline = time.monotonic() + seconds
            ev = {}
            while time.monotonic() < deadline:
                line = r.readline().decode()
                if not line:
                    break
                line = line.rstrip("\n")
                if not line:
                    if "data" in ev:
                        events.append((ev.get("event"), ev.get("id"), json.loads(ev["data"])))
                    ev = {}
                elif not line.startswith(":"):
                    k, _, v = line.partition(": ")
                    ev[k] = v
    except OSError:
        pass  # the read timed out: what came is what the test looks at
    return events


def test_events_replay_the_whole_history_and_resume():
    with Target() as t, Web(t, ["--autostart", "-u", "2", "-r", "50", "-t", "3s"]) as w:
        wait_state(w.base, {"stopped"}, 20)
        summary = w.summary()
        events = read_events(w.base, 2)
        points = [d for e, _, d in events if e == "point"]
        tables = [d for e, _, d in events if e == "table"]
        check_eq(len(points), len(summary["history"]),
                 "one point per second of history, replayed on connect")
        check_eq([p["users"] for p in points], [h["users"] for h in summary["history"]],
                 "users per point")
        check(tables and tables[-1]["state"] == "stopped", f"the latest table: {tables[-1:]}")
        check_eq(tables[-1]["stats"][-1]["num_requests"], summary["total"]["num_requests"],
                 "the table's Aggregated row")
        # A reconnect with Last-Event-ID gets only what came after.
        ids = [i for e, i, _ in events if e == "point"]
        again = read_events(w.base, 1.5, {"Last-Event-ID": ids[-2]})
        check_eq([i for e, i, _ in again if e == "point"], [ids[-1]],
                 f"resumed after id {ids[-2]}")
        check_eq([e for e, _, _ in again][-1], "table", "then the latest table")
        check_eq(w.stop(), 1, "exit code (503s failed)")


def test_prometheus_scrapes_an_autostarted_run():
    prom = shutil.which("prometheus")
    if not prom:
        print("skip: prometheus not installed (apt-get install prometheus)")
        return
    with Target() as t, Web(t, ["--autostart", "-u", "2", "-r", "50", "-t", "3s"]) as w:
        d = tempfile.mkdtemp(prefix="sl-prom-")
        pport = harness.free_port()
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                    f"  - job_name: stormlight\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{w.port}']\n")
        p = subprocess.Popen([prom, f"--config.file={d}/prometheus.yml",
                              f"--storage.tsdb.path={d}/data",
                              f"--web.listen-address=127.0.0.1:{pport}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            harness.wait_for_port(pport, 20, p)
            wait_state(w.base, {"stopped"}, 20)
            want = w.summary()["total"]["num_requests"]
            q = urllib.parse.quote("sum(stormlight_requests_total)")
            got = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    res = json.loads(get(f"http://127.0.0.1:{pport}", f"/api/v1/query?query={q}"))
                    r = res["data"]["result"]
                    got = float(r[0]["value"][1]) if r else None
                except (OSError, ValueError, KeyError):
                    got = None
                if got == want:
                    break
                time.sleep(0.5)
            check_eq(got, float(want), "prometheus' sum(stormlight_requests_total)")
            q = urllib.parse.quote('histogram_quantile(0.5, sum by (le) '
                                   '(stormlight_response_time_seconds_bucket))')
            res = json.loads(get(f"http://127.0.0.1:{pport}", f"/api/v1/query?query={q}"))
            v = float(res["data"]["result"][0]["value"][1])
            check(0 < v <= 0.0025, f"histogram_quantile(0.5) over the buckets: {v}")
        finally:
            harness._stop_process(p)
            shutil.rmtree(d, ignore_errors=True)
        check_eq(w.stop(), 1, "exit code (503s failed)")


def test_autoquit_ends_the_process():
    with Target() as t, Web(t, ["--autostart", "-u", "1", "-r", "10", "-t", "1s",
                                "--autoquit", "1"]) as w:
        t0 = time.monotonic()
        try:
            rc = w.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise harness.TestFailure("--autoquit 1 did not end the process")
        check_eq(rc, 1, f"exit code (503s failed): {w.stderr()[-300:]!r}")
        check(time.monotonic() - t0 >= 2.0, "the run (1 s) and the wait (1 s) both happened")


def test_bad_web_flags():
    for args, msg in [(["--web-port", "0"], "--web-port: must be between 1 and 65535"),
                      (["--web-host", "nowhere.example", "--web-auth", "a:b"],
                       "--web-host: expected an IP address"),
                      (["--web-host", "0.0.0.0"], "--web-host 0.0.0.0: the web UI would be"),
                      (["--autoquit", "3"], "--autoquit: only with the web UI")]:
        code, _, _, err = harness.run_stormlight(harness.usage_args() + args, SCENARIO,
                                                 timeout=10, write_json=False)
        check_eq(code, 2, f"{args}: exit code ({err!r})")
        check(msg in err, f"{args}: {err!r}")
    # A port in use: a clear message, exit 2.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code, _, _, err = harness.run_stormlight(
            harness.usage_args() + ["--web-host", "127.0.0.1", "--web-port", str(port)],
            SCENARIO, timeout=10, write_json=False)
        check_eq(code, 2, f"port in use: exit code ({err!r})")
        check("Address already in use" in err, f"port in use: {err!r}")


def test_auth_and_host_checks():
    with Target() as t, Web(t, ["--web-auth", "ann:s3cret"]) as w:
        try:
            get(w.base, "/stats/requests")
            check(False, "no credentials, yet an answer")
        except urllib.error.HTTPError as e:
            check_eq(e.code, 401, "no credentials")
            check("Basic" in e.headers.get("WWW-Authenticate", ""), "asks for basic auth")
        import base64

        def with_auth(user_pass, headers=None):
            h = {"Authorization": "Basic " + base64.b64encode(user_pass.encode()).decode()}
            h.update(headers or {})
            req = urllib.request.Request(w.base + "/stats/requests", headers=h)
            try:
                with OPENER.open(req, timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        check_eq(with_auth("ann:s3cret"), 200, "the right password")
        check_eq(with_auth("ann:s3cre"), 401, "a wrong password")
        check_eq(with_auth("ann:s3cretX"), 401, "a longer password")
        check_eq(with_auth("bob:s3cret"), 401, "another user")
        # DNS rebinding: a page of evil.example whose name resolves to 127.0.0.1 sends its
        # own name as Host; loopback names pass.
        check_eq(with_auth("ann:s3cret", {"Host": "evil.example:%d" % w.port}), 403,
                 "a foreign Host")
        check_eq(with_auth("ann:s3cret", {"Host": "localhost:%d" % w.port}), 200, "localhost")
        check_eq(w.stop(), 0, "exit code (no test ran)")
    # Beyond loopback only with a password.
    code, _, _, err = harness.run_stormlight(
        harness.usage_args() + ["--web-host", "*", "--web-port", str(harness.free_port())],
        SCENARIO, timeout=10, write_json=False)
    check_eq(code, 2, f"--web-host * without --web-auth: {err!r}")
    check("--web-auth" in err, f"says what is needed: {err!r}")


def test_page_in_chromium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        # Debian's python3-selenium is for Debian's python3: run this test there.
        if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
                os.path.realpath("/usr/bin/python3"):
            p = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__),
                                "test_page_in_chromium"], capture_output=True, text=True,
                               timeout=180)
            print(p.stdout.strip())
            check(p.returncode == 0 and "skip" not in p.stdout,
                  f"the page test under /usr/bin/python3: {p.stdout[-1500:]} {p.stderr[-1500:]}")
            return
        print("skip: python3-selenium not installed")
        return
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        print("skip: chromium / chromium-driver not installed")
        return
    profile = tempfile.mkdtemp(prefix="sl-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,900"]:
        opts.add_argument(a)
    shot = os.environ.get("SL_WEB_SCREENSHOT")  # docs/web.png is made this way
    with Target() as t, Web(t, ["-u", "3", "-r", "100"]) as w:
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            wait = WebDriverWait(driver, 30)
            driver.get(w.base + "/")
            form = wait.until(lambda d: d.find_element(By.ID, "start-form").is_displayed()
                              and d.find_element(By.ID, "start-form"))
            users = form.find_element(By.NAME, "user_count")
            check_eq(users.get_attribute("value"), "3", "the form starts from -u")
            users.clear()
            users.send_keys("5")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait.until(lambda d: "/hello" in d.find_element(By.ID, "stats-table").text)
            wait.until(lambda d: d.find_element(By.ID, "state").text == "running")
            # The target's open connections, less the one that asks for them.
            conns = lambda: t.stats()["connections"] - 1  # noqa: E731
            wait.until(lambda d: conns() == 5)
            driver.find_element(By.CSS_SELECTOR, "nav a[data-tab=charts]").click()
            check(driver.find_elements(By.CSS_SELECTOR, "#chart-rps canvas"), "a chart canvas")
            # Edit 5 -> 10: the target sees the connections follow.
            driver.find_element(By.ID, "edit-btn").click()
            edit = driver.find_element(By.ID, "edit-form")
            e_users = edit.find_element(By.NAME, "user_count")
            e_users.clear()
            e_users.send_keys("10")
            edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait.until(lambda d: d.find_element(By.ID, "users").text == "10")
            wait.until(lambda d: conns() == 10)
            time.sleep(1.5)
            if shot:
                driver.save_screenshot(shot)
            # Reset: the table starts again (the Aggregated row's count drops).
            driver.find_element(By.CSS_SELECTOR, "nav a[data-tab=stats]").click()
            before = get_json(w.base, "/stats/requests")["stats"][-1]["num_requests"]
            driver.find_element(By.ID, "reset-btn").click()
            wait.until(lambda d: get_json(w.base, "/stats/requests")["stats"][-1]["num_requests"]
                       < before)
            driver.find_element(By.ID, "stop-btn").click()
            wait.until(lambda d: d.find_element(By.ID, "state").text == "stopped")
            check(driver.find_element(By.ID, "new-btn").is_displayed(), "New test after a stop")
            # The CSV the page links to has the JSON's counts.
            driver.find_element(By.CSS_SELECTOR, "nav a[data-tab=download]").click()
            href = driver.find_element(By.LINK_TEXT, "Request statistics CSV").get_attribute("href")
            rows = list(csv.DictReader(io.StringIO(get(href, ""))))
            summary = get_json(w.base, "/stats/summary.json")
            check_eq(int(rows[-1]["Request Count"]), summary["total"]["num_requests"],
                     "the downloaded CSV's Aggregated count == the JSON summary's")
            # Reload: the whole history comes back.
            hist = len(summary["history"])
            driver.refresh()
            wait.until(lambda d: d.find_element(By.ID, "state").text == "stopped")
            n = driver.execute_script("return state.series[0].length")
            check_eq(n, hist, "chart points after a reload == the run's history")
            rows = driver.find_elements(By.CSS_SELECTOR, "#stats-table tbody tr")
            check_eq(len(rows), 2, "two rows after the reload")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                      and "favicon" not in e["message"]]
            check_eq(errors, [], "no console errors")
        finally:
            driver.quit()
        check_eq(w.stop(), 1, "exit code (503s failed)")

    # 2,000 rows render, sort and scroll.
    many = "User{ tasks = { function(u) for i = 1, 2000 do " \
           "u:get('/x', {name = string.format('/r/%04d', i)}) end end } }\n"
    with Target() as t, Web(t, ["-u", "1", "-r", "10", "-t", "4s", "--autostart"],
                            scenario=many) as w:
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            wait = WebDriverWait(driver, 60)
            wait_state(w.base, {"stopped"}, 30)
            driver.get(w.base + "/")
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                     "#stats-table tbody tr")) == 2000)
            t0 = time.monotonic()
            driver.find_element(By.CSS_SELECTOR, "th[data-key=name]").click()  # descending
            first = driver.find_element(By.CSS_SELECTOR, "#stats-table tbody tr td.name").text
            check_eq(first, "/r/2000", "sorted by name, descending")
            took = time.monotonic() - t0
            check(took < harness.speed_bound(5, 15), f"sorting 2,000 rows took {took:.1f}s")
            last = driver.find_elements(By.CSS_SELECTOR, "#stats-table tbody tr")[-1]
            driver.execute_script("arguments[0].scrollIntoView()", last)
            check_eq(last.find_element(By.CSS_SELECTOR, "td.name").text, "/r/0001",
                     "the last row, scrolled to")
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        w.stop()


if __name__ == "__main__":
    harness.main()
