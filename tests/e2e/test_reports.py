"""End-to-end: report files and CI gates (--csv, --html, --hdr-log, --threshold, config).

Every file is checked against the JSON summary of the same run: counts exactly, times to
the microsecond. The HTML report is loaded in headless Chromium, and the HDR log is read
by HdrHistogram's own Java implementation (Debian's libhdrhistogram-java).
"""

import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (SL_BIN, Target, TestFailure, check, check_eq,  # noqa: E402
                     check_summary, describe, find_row, run_stormlight)

HERE = os.path.dirname(os.path.abspath(__file__))

# /status/503 fails every time: the error, failure and threshold paths all get data.
SCENARIO = """\
endpoints = {
  Task{"GET", "/hello", weight = 3},
  Task{"GET", "/status/503"},
  Task{"POST", "/api/upload", data = {a = 1}, name = "upload, \\"quoted\\""},
}
"""

STATS_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
                "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
                "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%")
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,"
                  "98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,"
                  "Total Median Response Time,Total Average Response Time,Total Min Response Time,"
                  "Total Max Response Time,Total Average Content Size")
FAILURES_HEADER = "Method,Name,Error,Occurrences"
EXCEPTIONS_HEADER = "Count,Message,Traceback,Nodes"
PCTS = ["50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100"]


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="sl-reports-")
        return self.path

    def __exit__(self, *exc):
        if not os.environ.get("SL_KEEP_TMP"):
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def read_csv(path):
    with open(path, newline="") as f:
        text = f.read()
    header = text.split("\n", 1)[0].rstrip("\r")
    rows = list(csv.DictReader(text.splitlines()))
    return header, rows


def num(v):
    return float(v)


def run_all_reports(tmp, extra=(), seconds="2s"):
    """One run against sl_target writing every report; returns (summary, paths, stdout)."""
    paths = {"prefix": os.path.join(tmp, "run"), "html": os.path.join(tmp, "report.html"),
             "hdr": os.path.join(tmp, "run.hlog")}
    with Target() as t:
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "4", "-r", "100", "-t", seconds, "--threads", "2", "-q",
             "--csv", paths["prefix"], "--csv-full-history", "--html", paths["html"],
             "--hdr-log", paths["hdr"], *extra], SCENARIO)
    check(code == 1, f"failed requests make exit 1: {describe(code, summary, out, err)}")
    check_summary(summary)
    return summary, paths, out


def check_stats_row(csv_row, json_row, what):
    check_eq(int(csv_row["Request Count"]), json_row["num_requests"], f"{what} Request Count")
    check_eq(int(csv_row["Failure Count"]), json_row["num_failures"], f"{what} Failure Count")
    pairs = [("Median Response Time", json_row["percentiles_ms"]["50"]),
             ("Average Response Time", json_row["avg_ms"]),
             ("Min Response Time", json_row["min_ms"]),
             ("Max Response Time", json_row["max_ms"]),
             ("Average Content Size", json_row["avg_content_bytes"]),
             ("Requests/s", json_row["rps"]),
             ("Failures/s", json_row["failures_per_s"])]
    pairs += [(k + "%", json_row["percentiles_ms"][k]) for k in PCTS]
    for col, expected in pairs:
        if expected is None:  # a time of an empty row: null in JSON, N/A in CSV
            check_eq(csv_row[col], "N/A", f"{what} {col} of an empty row")
            continue
        check_eq(num(csv_row[col]), float(expected), f"{what} {col}")


def test_csv_files_agree_with_the_json_summary():
    with TempDir() as tmp:
        summary, paths, _ = run_all_reports(tmp)
        prefix = paths["prefix"]
        header, rows = read_csv(prefix + "_stats.csv")
        check_eq(header, STATS_HEADER, "_stats.csv header")
        check_eq(len(rows), len(summary["stats"]) + 1, "_stats.csv rows (each row + Aggregated)")
        for r in summary["stats"]:
            match = [c for c in rows if c["Type"] == r["method"] and c["Name"] == r["name"]]
            check_eq(len(match), 1, f"_stats.csv rows for {r['method']} {r['name']}")
            check_stats_row(match[0], r, f"_stats.csv {r['method']} {r['name']}")
        check_eq((rows[-1]["Type"], rows[-1]["Name"]), ("", "Aggregated"), "last _stats.csv row")
        check_stats_row(rows[-1], summary["total"], "_stats.csv Aggregated")
        check(any(c["Name"] == 'upload, "quoted"' for c in rows), "a name with a comma and quotes")

        header, rows = read_csv(prefix + "_failures.csv")
        check_eq(header, FAILURES_HEADER, "_failures.csv header")
        got = sorted((c["Method"], c["Name"], c["Error"], int(c["Occurrences"])) for c in rows)
        want = sorted((e["method"], e["name"], e["error"], e["occurrences"])
                      for e in summary["errors"])
        check_eq(got, want, "_failures.csv rows vs JSON errors")
        check(any(e[1] == "/status/503" for e in got), "the 503 row has failures")

        header, rows = read_csv(prefix + "_exceptions.csv")
        check_eq(header, EXCEPTIONS_HEADER, "_exceptions.csv header")
        check_eq(len(rows), len(summary.get("exceptions", [])), "_exceptions.csv rows")

        header, rows = read_csv(prefix + "_stats_history.csv")
        check_eq(header, HISTORY_HEADER, "_stats_history.csv header")
        history = summary["history"]
        agg = [c for c in rows if c["Name"] == "Aggregated"]
        check_eq(len(agg), len(history), "an Aggregated history row per JSON history point")
        per_tick = len(summary["stats"]) + 1
        check_eq(len(rows), per_tick * len(history), "--csv-full-history: every row every tick")
        for c, h in zip(agg, history):
            check_eq(int(c["User Count"]), h["users"], "history User Count")
            check_eq(num(c["Requests/s"]), float(h["rps"]), "history Requests/s")
            check_eq(num(c["Failures/s"]), float(h["failures_per_s"]), "history Failures/s")
            if h["requests"]:
                for k in ("50", "95", "99"):
                    check_eq(num(c[k + "%"]), float(h["p" + k + "_ms"]), f"history {k}%")
        last = agg[-1]
        total = summary["total"]
        check_eq(int(last["Total Request Count"]), total["num_requests"], "last Total Request Count")
        check_eq(int(last["Total Failure Count"]), total["num_failures"], "last Total Failure Count")
        check_eq(num(last["Total Median Response Time"]), float(total["percentiles_ms"]["50"]),
                 "last Total Median")
        check_eq(num(last["Total Max Response Time"]), float(total["max_ms"]), "last Total Max")
        check_eq(num(last["Total Min Response Time"]), float(total["min_ms"]), "last Total Min")
        check_eq(num(last["Total Average Response Time"]), float(total["avg_ms"]),
                 "last Total Average")
        stamps = [int(c["Timestamp"]) for c in agg]
        check(stamps == sorted(stamps), f"timestamps increase: {stamps}")
        # The history accounts for every request, second by second.
        check_eq(sum(h["requests"] for h in history), total["num_requests"], "history requests")
        check_eq(sum(h["failures"] for h in history), total["num_failures"], "history failures")
        check(2 <= len(history) <= 4, f"about one history point per second: {len(history)}")
        for row_stats in summary["stats"]:
            mine = [c for c in rows if c["Type"] == row_stats["method"]
                    and c["Name"] == row_stats["name"]]
            check_eq(int(mine[-1]["Total Request Count"]), row_stats["num_requests"],
                     f"last history Total Request Count of {row_stats['name']}")


def test_exceptions_csv_and_html_list_script_errors():
    scenario = ('User{ tasks = { function(u) u:get("/hello") end,\n'
                '                function(u) error("boom, \\"quoted\\" <b>") end } }\n')
    with TempDir() as tmp, Target() as t:
        prefix, html = os.path.join(tmp, "x"), os.path.join(tmp, "x.html")
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", "1s", "-q", "--csv", prefix,
             "--html", html], scenario)
        check_summary(summary)
        exceptions = summary.get("exceptions", [])
        check(len(exceptions) == 1 and exceptions[0]["occurrences"] > 0,
              f"one script error, counted: {describe(code, summary, out, err)} {exceptions}")
        header, rows = read_csv(prefix + "_exceptions.csv")
        check_eq(header, EXCEPTIONS_HEADER, "_exceptions.csv header")
        got = [(int(r["Count"]), r["Message"], r["Traceback"], r["Nodes"]) for r in rows]
        want = [(e["occurrences"], e["message"], e["location"], "local") for e in exceptions]
        check_eq(got, want, "_exceptions.csv rows vs JSON exceptions")
        check('boom, "quoted" <b>' in exceptions[0]["message"], exceptions[0]["message"])
        with open(html) as f:
            page = f.read()
        check("boom, &quot;quoted&quot; &lt;b&gt;" in page, "the exception, escaped, in the HTML")


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise TestFailure("chromium not found (apt-get install chromium)")


def chromium_run(args, tmp):
    profile = tempfile.mkdtemp(prefix="sl-chromium-", dir=tmp)
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *args]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=90)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(
        errors="replace")


def test_html_report_loads_and_draws_in_chromium():
    with TempDir() as tmp:
        summary, paths, _ = run_all_reports(tmp)
        with open(paths["html"]) as f:
            html = f.read()
        # Self-contained: nothing to fetch when opened.
        check(not re.search(r"<(link|img|iframe)\b|\bsrc\s*=", html, re.I),
              "the report loads no external resource")
        urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
        urls -= {"http://www.w3.org/2000/svg", summary["host"]}
        check_eq(sorted(urls), [], "URLs in the report other than the host and the SVG namespace")
        embedded = re.search(r'<script type="application/json" id="sl-history">(.*?)</script>',
                             html, re.S)
        check(embedded is not None, "history data block present")
        check_eq(json.loads(embedded.group(1)), summary["history"], "embedded history == JSON")
        for r in summary["stats"]:
            check(str(r["num_requests"]) in html, f"row {r['name']} count in the tables")
        check("HTTP 503 Service Unavailable" in html, "error table")
        check("upload, &quot;quoted&quot;" in html, "names are HTML-escaped")

        code, dom, log = chromium_run(["--virtual-time-budget=5000", "--dump-dom",
                                       "file://" + paths["html"]], tmp)
        check_eq(code, 0, f"chromium exit status; log: {log[-1500:]}")
        console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        check_eq(console, [], "console messages while loading the report")
        check('data-charts="ok"' in dom, f"charts script finished: {dom[-800:]}")
        errors = re.search(r'<pre id="sl-errors">(.*?)</pre>', dom, re.S)
        check(errors is not None and errors.group(1).strip() == "",
              f"no chart errors: {errors.group(1) if errors else dom[-500:]}")
        for chart in ("chart-rps", "chart-latency", "chart-users"):
            m = re.search(r'<div class="chart" id="%s"[^>]*data-drawn="(\d+)"' % chart, dom)
            check(m is not None, f"{chart} drawn")
            check_eq(int(m.group(1)), len(summary["history"]), f"{chart} points")
            body = dom.split(f'id="{chart}"', 1)[1].split('class="chart"', 1)[0]
            check(body.count("<polyline") >= 1, f"{chart} has lines")
            check("<svg" in body and "<text" in body, f"{chart} has axes")
        check_eq(dom.count("<polyline"), 6, "rps+fails, p50/p95/p99 and users lines")

        shot = os.path.join(tmp, "report.png")
        code, _, log = chromium_run([f"--screenshot={shot}", "--window-size=1280,2000",
                                     "--virtual-time-budget=5000", "file://" + paths["html"]],
                                    tmp)
        check(code == 0 and os.path.getsize(shot) > 10000, f"screenshot taken: {log[-500:]}")
        if os.environ.get("SL_KEEP_TMP"):
            print(f"screenshot: {shot}")


def hdr_decoder(tmp):
    """Compiles tests/e2e/HdrLogCheck.java against Debian's HdrHistogram jar."""
    jar = "/usr/share/java/hdrhistogram.jar"
    if not os.path.exists(jar):
        raise TestFailure(f"{jar} not found (apt-get install libhdrhistogram-java)")
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        raise TestFailure("javac/java not found (apt-get install default-jdk-headless)")
    out = os.path.join(tmp, "classes")
    os.makedirs(out, exist_ok=True)
    subprocess.run([javac, "-d", out, "-cp", jar, os.path.join(HERE, "HdrLogCheck.java")],
                   check=True, timeout=120)
    return [java, "-cp", f"{jar}:{out}", "HdrLogCheck"]


def test_hdr_log_read_by_hdrhistogram_java():
    with TempDir() as tmp:
        summary, paths, _ = run_all_reports(tmp)
        with open(paths["hdr"]) as f:
            lines = f.read().splitlines()
        check_eq(lines[0], "#[Histogram log format version 1.3]", "log format line")
        check(lines[1].startswith("#[StartTime: ") and lines[2].startswith("#[BaseTime: "),
              f"StartTime and BaseTime lines: {lines[:3]}")
        check('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
              in lines, "legend line")
        data = [ln for ln in lines if not ln.startswith(("#", '"'))]
        check(all(re.fullmatch(r"(Tag=[^, ]+,)?\d+\.\d{3},\d+\.\d{3},\d+\.\d{3},HISTF\S+", ln)
                  for ln in data), f"interval lines: {data[:3]}")

        proc = subprocess.run(hdr_decoder(tmp) + [paths["hdr"]], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=120)
        check_eq(proc.returncode, 0, f"HdrLogCheck: {proc.stderr.decode(errors='replace')}")
        decoded = {}
        for line in proc.stdout.decode().splitlines():
            m = re.fullmatch(r"tag (\S+) intervals (\d+) count (\d+) p50 (\d+) p99 (\d+) max (\d+)",
                             line)
            if m:
                decoded[m.group(1)] = [int(x) for x in m.groups()[1:]]
        expected = {"*": summary["total"]}
        for r in summary["stats"]:
            tag = re.sub(r"[,\s]", "_", f"{r['method']} {r['name']}")
            expected[tag] = r
        check_eq(sorted(decoded), sorted(expected), "tags in the log")
        for tag, row in expected.items():
            intervals, count, p50, p99, mx = decoded[tag]
            check_eq(intervals, len(summary["history"]), f"{tag} intervals")
            check_eq(count, row["num_requests"], f"{tag} total count")
            for got_us, key in ((p50, "50"), (p99, "99"), (mx, "100")):
                want = row["percentiles_ms"][key]
                got = got_us / 1000.0
                check(abs(got - want) <= 0.001 * want + 1e-9,
                      f"{tag} p{key}: Java {got} ms, JSON {want} ms (more than 0.1% apart)")


BOTH_WAYS = [
    # (threshold, holds, observed from the summary)
    ("p95<60s", True, lambda s: s["total"]["percentiles_ms"]["95"]),
    ("p95<1us", False, lambda s: s["total"]["percentiles_ms"]["95"]),
    ("p99.9<=60000ms", True, lambda s: s["total"]["percentiles_ms"]["99.9"]),
    ("p99.9>60s", False, lambda s: s["total"]["percentiles_ms"]["99.9"]),
    ("avg<60000000us", True, lambda s: s["total"]["avg_ms"]),
    ("avg>=60s", False, lambda s: s["total"]["avg_ms"]),
    ("max<60s", True, lambda s: s["total"]["max_ms"]),
    ("max<1us", False, lambda s: s["total"]["max_ms"]),
    ("min>=1us", True, lambda s: s["total"]["min_ms"]),
    ("min>60s", False, lambda s: s["total"]["min_ms"]),
    ("med<60s", True, lambda s: s["total"]["percentiles_ms"]["50"]),
    ("med>60s", False, lambda s: s["total"]["percentiles_ms"]["50"]),
    ("fail_ratio<0.9", True, lambda s: s["total"]["num_failures"] / s["total"]["num_requests"]),
    ("fail_ratio<0.01", False, lambda s: s["total"]["num_failures"] / s["total"]["num_requests"]),
    ("rps>1", True, lambda s: s["total"]["rps"]),
    ("rps>100000000", False, lambda s: s["total"]["rps"]),
    ("GET /hello: p95<60s", True, lambda s: find_row(s, "GET", "/hello")["percentiles_ms"]["95"]),
    ("GET /hello: fail_ratio<=0%", True, lambda s: 0.0),
    ("GET /status/503: fail_ratio<100%", False, lambda s: 1.0),
    ("GET /missing: p95<60s", False, None),
]


def threshold_args(exprs):
    return [a for e in exprs for a in ("--threshold", e)]


def run_thresholds(exprs, expect_code, extra=(), seconds="1s"):
    with Target() as t:
        code, summary, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-r", "100", "-t", seconds, "-q", *threshold_args(exprs),
             *extra], SCENARIO)
    check(code == expect_code, f"expected exit {expect_code}: {describe(code, summary, out, err)}")
    check_summary(summary)
    return summary, out


def test_every_threshold_form_in_both_directions():
    exprs = [e for e, _, _ in BOTH_WAYS]
    summary, out = run_thresholds(exprs, 1)
    results = summary["thresholds"]
    check_eq([r["expr"] for r in results], exprs, "thresholds in the JSON, in order")
    for (expr, holds, observed), r in zip(BOTH_WAYS, results):
        check_eq(r["ok"], holds, f"{expr} ok")
        if observed is None:
            check_eq(r["observed"], None, f"{expr} observed (no such row)")
        else:
            want = observed(summary)
            check(abs(r["observed"] - want) <= 1e-9 + 1e-6 * abs(want),
                  f"{expr}: observed {r['observed']}, summary says {want}")
        mark = "\u2713" if holds else "\u2717"
        check(re.search(rf"^\s*{mark} {re.escape(expr)}\s+observed ", out, re.M) is not None,
              f"summary line for {expr} with {mark}:\n{out[-1500:]}")


def test_thresholds_decide_the_exit_code():
    met = [e for e, holds, _ in BOTH_WAYS if holds]
    # Requests to /status/503 fail, yet the thresholds hold: exit 0.
    summary, _ = run_thresholds(met, 0)
    check(summary["total"]["num_failures"] > 0, "the run had failed requests")
    check(all(r["ok"] for r in summary["thresholds"]), "all met")
    for breached in ("p95<1us", "GET /status/503: fail_ratio<0.5"):
        summary, _ = run_thresholds(met + [breached], 1)
        check_eq([r["expr"] for r in summary["thresholds"] if not r["ok"]], [breached],
                 "the one breached threshold")


def test_malformed_threshold_is_a_usage_error():
    for expr, part in (("p95<200xs", "unknown time unit"), ("latency<1s", "unknown metric"),
                       ("p95 200ms", "expected one of"), ("/hello: p95<1s", "scope")):
        code, summary, out, err = run_stormlight(
            ["-H", "http://127.0.0.1:9", "-t", "1s", "--threshold", expr],
            "endpoints = { Task{\"GET\", \"/\"} }\n")
        check_eq(code, 2, f"exit for {expr!r}")
        check(err.startswith("stormlight: --threshold: ") and part in err and expr in err,
              f"message for {expr!r}: {err!r}")
        check(summary is None, "no run, no summary")


def test_abort_on_threshold_stops_early_and_writes_everything():
    with TempDir() as tmp:
        prefix, html = os.path.join(tmp, "a"), os.path.join(tmp, "a.html")
        summary, out = run_thresholds(["max<1us", "p99<60s"], 1, seconds="30s",
                                      extra=["--abort-on-threshold", "--csv", prefix,
                                             "--html", html])
        wall = run_stormlight.last_wall_s
        check(wall < 5, f"aborted after the first tick, not after 30 s: {wall:.1f}s")
        check_eq(summary.get("aborted_by_threshold"), "max<1us", "aborted_by_threshold")
        check("Aborted early: threshold 'max<1us'" in out, f"summary says why: {out[-800:]}")
        _, rows = read_csv(prefix + "_stats.csv")
        check_eq(int(rows[-1]["Request Count"]), summary["total"]["num_requests"],
                 "CSV written after the abort")
        with open(html) as f:
            check("Aborted early" in f.read(), "HTML says the run was aborted")
        # A failure ratio is not judged before the run has settled (5 s): no abort here.
        summary, _ = run_thresholds(["fail_ratio<0.01"], 1, seconds="2s",
                                    extra=["--abort-on-threshold"])
        check("aborted_by_threshold" not in summary, "fail_ratio does not abort within 5 s")
        check(summary["duration_s"] >= 1.9, f"ran the full 2 s: {summary['duration_s']}")


def run_in(cwd, args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORMLIGHT_")}
    env.update(env_extra or {})
    json_path = os.path.join(cwd, "summary.json")
    if os.path.exists(json_path):
        os.unlink(json_path)
    proc = subprocess.run([SL_BIN, *args, "--json", json_path], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    summary = None
    if os.path.exists(json_path):
        with open(json_path) as f:
            summary = json.load(f)
    return proc.returncode, summary, proc.stdout.decode(errors="replace"), proc.stderr.decode(
        errors="replace")


def test_config_file_environment_and_flags():
    with TempDir() as tmp, Target() as t:
        harness.write_scenario(tmp, "endpoints = { Task{\"GET\", \"/hello\"} }\n")
        with open(os.path.join(tmp, "stormlight.conf"), "w") as f:
            f.write(f"# stormlight.conf\nhost = {t.url}\nusers = 1\nspawn-rate = 100\n"
                    f"run-time = 1s\nquiet = true\nthreads = 1\n"
                    f"threshold = fail_ratio<0.01\n")
        code, s, out, err = run_in(tmp, [])
        check_eq((code, s and s["users"]), (0, 1), f"file only: {err[-300:]}")
        check_eq(s["host"], t.url, "host from the file")
        check_eq([r["expr"] for r in s["thresholds"]], ["fail_ratio<0.01"], "file threshold")
        code, s, _, err = run_in(tmp, [], {"STORMLIGHT_USERS": "2", "STORMLIGHT_THREADS": "2"})
        check_eq((code, s and s["users"], s and s["threads"]), (0, 2, 2),
                 f"environment beats the file: {err[-300:]}")
        code, s, _, err = run_in(tmp, ["-u", "3", "--threads", "1"], {"STORMLIGHT_USERS": "2"})
        check_eq((code, s and s["users"], s and s["threads"]), (0, 3, 1),
                 f"flags beat the environment: {err[-300:]}")
        # --config names another file; STORMLIGHT_RUN_TIME still applies over it.
        other = os.path.join(tmp, "ci.conf")
        with open(other, "w") as f:
            f.write(f"host = {t.url}\nusers = 4\nrun_time = 5s\nquiet = yes\n")
        code, s, _, err = run_in(tmp, ["--config", other], {"STORMLIGHT_RUN_TIME": "1s"})
        check_eq((code, s and s["users"]), (0, 4), f"--config file: {err[-300:]}")
        check(s["duration_s"] < 3, f"run time from the environment: {s['duration_s']}")

        # Mistakes name where they are: file:line, or the variable.
        with open(os.path.join(tmp, "stormlight.conf"), "a") as f:
            f.write("usres = 3\n")
        code, s, _, err = run_in(tmp, [])
        check_eq(code, 2, "unknown key in the file")
        check("stormlight.conf:9: unknown option 'usres'" in err, f"message: {err!r}")
        code, s, _, err = run_in(tmp, ["--config", other], {"STORMLIGHT_USERS": "many"})
        check_eq(code, 2, "bad value in the environment")
        check(err.startswith("stormlight: STORMLIGHT_USERS: --users: expected a positive"),
              f"message: {err!r}")


def test_unwritable_report_path_fails_before_the_run():
    for flag in ("--csv", "--html", "--hdr-log"):
        code, summary, out, err = run_stormlight(
            ["-H", "http://127.0.0.1:9", "-t", "30s", flag, "/nonexistent-dir/x"],
            "endpoints = { Task{\"GET\", \"/\"} }\n", timeout=10)
        check_eq(code, 2, f"{flag} into a missing directory")
        check(f"stormlight: {flag}: cannot write '/nonexistent-dir/x" in err, f"message: {err!r}")
        check(run_stormlight.last_wall_s < harness.speed_bound(3, 6),
              "refused at start-up, not after the run")


if __name__ == "__main__":
    harness.main()
