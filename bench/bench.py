#!/usr/bin/env python3
"""Helper for bench/run.sh (Python 3 standard library only).

run.sh runs every load generator itself (pinned, under GNU time and timeout) and calls this
script to turn each run's files into one record, then once more at the end to print the
tables and goals and to append everything to the results file.

  bench.py record ROWS KIND PREFIX key=value...
      Parses PREFIX.out / PREFIX.err / PREFIX.time / PREFIX.json / PREFIX.strace /
      PREFIX.stat0 / PREFIX.stat1 (whichever KIND needs: wrk, floor, stormlight, locust) and
      appends one JSON line to ROWS. The key=value pairs (test, generator, users, threads,
      seconds, note) are stored as given.
  bench.py stamp OUT -- CMD...
      Runs CMD with its stdout through a pipe and writes each line to OUT prefixed by the
      monotonic time it arrived (to see whether the live view stays on time). Returns CMD's
      exit status; SIGINT/SIGTERM are passed on to CMD.
  bench.py sigterm PREFIX AFTER_S BOUND_S -- CMD...
      Runs CMD (stdout and stderr to PREFIX.out / PREFIX.err), sends it SIGTERM AFTER_S
      seconds after the start and waits at most BOUND_S more before SIGKILL. Writes
      PREFIX.time (as GNU time '%U %S %M %e' would), PREFIX.rc and PREFIX.sigterm (JSON:
      seconds from the signal to the exit, measured on the monotonic clock with a pidfd).
  bench.py fetch URL OUT
      GET URL (127.0.0.1 only, no proxy) into OUT: sl_target's /__reset and /__stats.
  bench.py report ROWS RESULTS_TSV COMMIT
      Prints the main table, the goal verdicts and the other tests; appends every row and
      every derived figure to RESULTS_TSV (created with a header line when missing).
"""

import csv
import datetime
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request

# Syscalls that make up the per-request cost: the request write, the response read, and
# the share of event waits and registrations. Vectored and message forms count too.
WRITE_CALLS = ("write", "sendto", "writev", "sendmsg")
READ_CALLS = ("read", "recvfrom", "readv", "recvmsg")
WAIT_CALLS = ("epoll_wait", "epoll_pwait", "epoll_pwait2")
CTL_CALLS = ("epoll_ctl",)

TSV_FIELDS = [
    "timestamp", "commit", "test", "generator", "users", "threads", "round", "requests", "seconds",
    "rps", "cpu_s", "req_per_cpu_s", "ratio_to_wrk", "peak_rss_kib", "p50_ms", "p99_ms",
    "failures", "value", "note",
]


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def parse_time(path):
    """GNU time -f '%U %S %M' or '%U %S %M %e': the last line with three or four numbers
    (earlier lines say how the command ended). Returns (cpu_s, peak_rss_kib, wall_s), each
    None when missing."""
    for line in reversed(read_text(path).splitlines()):
        m = re.fullmatch(r"\s*([\d.]+) ([\d.]+) (\d+)(?: ([\d.]+))?\s*", line)
        if m:
            wall = float(m.group(4)) if m.group(4) is not None else None
            return float(m.group(1)) + float(m.group(2)), int(m.group(3)), wall
    return None, None, None


def parse_proc_stat(path):
    """Per-CPU busy and total jiffies and the machine's steal, from a /proc/stat copy."""
    cpus = {}
    for line in read_text(path).splitlines():
        f = line.split()
        if not f or not f[0].startswith("cpu"):
            continue
        vals = [int(x) for x in f[1:]]
        # user nice system idle iowait irq softirq steal guest guest_nice
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        steal = vals[7] if len(vals) > 7 else 0
        total = sum(vals[:8])
        cpus[f[0]] = (total - idle - steal, total, steal)
    return cpus


def core_busy(prefix):
    """Per core during the run: busy jiffies (every process, ours included), all jiffies,
    and stolen jiffies (USER_HZ = 100 per second); the noise of the run follows from them."""
    a, b = parse_proc_stat(prefix + ".stat0"), parse_proc_stat(prefix + ".stat1")
    out = {}
    for name in b:
        if name in a:
            out[name] = tuple(b[name][i] - a[name][i] for i in range(3))
    return out


def nginx_cpu(prefix):
    """CPU seconds nginx's worker used during the run, from two 'TICKS CLK_TCK' files."""
    try:
        t0, hz = (int(x) for x in read_text(prefix + ".ngx0").split())
        t1, _ = (int(x) for x in read_text(prefix + ".ngx1").split())
    except ValueError:
        return None
    return (t1 - t0) / float(hz) if hz else None


def wrk_time_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
    return float(m.group(1)) * scale[m.group(2)]


def parse_wrk(prefix, row):
    out = read_text(prefix + ".out")
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    if m:
        row["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        row["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s%%\s+(\S+)\s*$" % pct, out, re.M)
        if m:
            row[key] = wrk_time_ms(m.group(1))
    fails = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        fails += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        fails += int(m.group(1))
    row["failures"] = fails


def parse_floor(prefix, row):
    out = read_text(prefix + ".out")
    kv = dict(re.findall(r"(\w+)=([\d.]+)", out))
    if "requests" in kv:
        row["requests"] = int(kv["requests"])
        row["rps"] = float(kv["rps"])
        row["p50_ms"] = int(kv["p50_us"]) / 1000.0
        row["p99_ms"] = int(kv["p99_us"]) / 1000.0
        row["failures"] = 0
    elif "connection lost" in read_text(prefix + ".err"):
        row["failures"] = 1


def parse_stormlight(prefix, row):
    try:
        with open(prefix + ".json") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return
    total = doc.get("total", {})
    row["requests"] = total.get("num_requests")
    row["rps"] = total.get("rps")
    pct = total.get("percentiles_ms", {})
    row["p50_ms"] = pct.get("50")
    row["p99_ms"] = pct.get("99")
    row["failures"] = total.get("num_failures")
    row["errors"] = [[e.get("error"), e.get("occurrences")] for e in doc.get("errors", [])]
    row["in_flight_at_stop"] = doc.get("in_flight_at_stop")
    row["retries"] = doc.get("retries")
    row["json_threads"] = doc.get("threads")
    row["json_users"] = doc.get("users")
    row["duration_s"] = doc.get("duration_s")
    # The rows and what they add up to: every completed request is in exactly one row.
    stats = doc.get("stats") or []
    row["stats_rows"] = len(stats)
    row["stats_sum"] = sum(s.get("num_requests") or 0 for s in stats)
    # The summary names its overflow row ("overflow_row", null while there is none).
    row["overflow_rows"] = [doc["overflow_row"]] if doc.get("overflow_row") else []
    history = doc.get("history") or []
    row["history_points"] = len(history)
    row["history_sum"] = sum(h.get("requests") or 0 for h in history)
    row["history_max_gap_s"] = max((h.get("interval_s") or 0 for h in history), default=None)


def parse_locust(prefix, row):
    path = prefix + "_stats.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        rows = []
    agg = [r for r in rows if r.get("Name") == "Aggregated"]
    if not agg:
        err = [line for line in read_text(prefix + ".err").splitlines() if line.strip()]
        row["note"] = "Locust failed: " + (err[-1][:120] if err else "no stats CSV written")
        return
    a = agg[0]
    row["requests"] = int(a["Request Count"])
    row["failures"] = int(a["Failure Count"])
    row["rps"] = float(a["Requests/s"])
    # Locust keeps response times in whole milliseconds.
    row["p50_ms"] = float(a["50%"]) if a.get("50%") not in (None, "", "N/A") else None
    row["p99_ms"] = float(a["99%"]) if a.get("99%") not in (None, "", "N/A") else None


def parse_strace(prefix, row):
    """strace -c -o PREFIX.strace: calls per syscall name."""
    calls = {}
    for line in read_text(prefix + ".strace").splitlines():
        f = line.split()
        if len(f) < 5 or not re.fullmatch(r"[\d.]+", f[0]) or f[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        try:
            calls[f[-1]] = int(f[3])
        except ValueError:
            continue
    row["syscalls"] = calls


def parse_stamps(prefix, row):
    """Live-view headers ('elapsed Xs / Ys  users A / B') with their arrival times."""
    heads = []
    for line in read_text(prefix + ".stamped").splitlines():
        t, _, text = line.partition("\t")
        m = re.search(r"elapsed (\d+)s / \S+\s+users (\d+) / (\d+)", text)
        if m:
            heads.append([float(t), int(m.group(1)), int(m.group(2)), int(m.group(3)), None])
            continue
        m = re.match(r"\s+Aggregated\s+(\d+)\s", text)
        if m and heads and heads[-1][4] is None:
            heads[-1][4] = int(m.group(1))
    if heads:
        # What each table showed: elapsed seconds, users running, requests so far.
        row["live_view"] = [[h[1], h[2], h[4]] for h in heads]
        row["max_users_seen"] = max(h[2] for h in heads)
        row["target_users"] = heads[-1][3]
        # The last header belongs to the final summary; the live tables come before it.
        live = heads[:-1] if len(heads) > 1 else heads
        gaps = [b[0] - a[0] for a, b in zip(live, live[1:])]
        row["live_tables"] = len(live)
        row["live_max_gap_s"] = round(max(gaps), 3) if gaps else None
        row["live_first_s"] = round(live[0][0] - row.get("started_mono", live[0][0]), 3)


def parse_h2load(prefix, row):
    out = read_text(prefix + ".out")
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if m:
        row["rps"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored", out)
    if m:
        row["requests"] = int(m.group(3))
        row["failures"] = int(m.group(4)) + int(m.group(5))


PARSERS = {
    "h2load": parse_h2load,
    "wrk": parse_wrk,
    "floor": parse_floor,
    "stormlight": parse_stormlight,
    "stormlight-lua": parse_stormlight,
    "locust": parse_locust,
}


def cmd_record(args):
    rows_path, kind, prefix = args[0], args[1], args[2]
    row = {"kind": kind}
    for kv in args[3:]:
        k, _, v = kv.partition("=")
        row[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    row["timestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    rc = read_text(prefix + ".rc").strip()
    row["rc"] = int(rc) if rc.lstrip("-").isdigit() else None
    for key in ("requests", "rps", "p50_ms", "p99_ms", "failures"):
        row.setdefault(key, None)
    PARSERS[kind](prefix, row)
    row["cpu_s"], row["peak_rss_kib"], row["wall_s"] = parse_time(prefix + ".time")
    if os.path.exists(prefix + ".strace"):
        parse_strace(prefix, row)
    if os.path.exists(prefix + ".stamped"):
        started = read_text(prefix + ".stamped.started").strip()
        if started:
            row["started_mono"] = float(started)
        parse_stamps(prefix, row)
    if os.path.exists(prefix + ".stat0"):
        row["busy"] = core_busy(prefix)
    if os.path.exists(prefix + ".ngx1"):
        row["nginx_cpu_s"] = nginx_cpu(prefix)
    tw = read_text(prefix + ".tw").strip()
    if tw.isdigit():
        row["time_wait"] = int(tw)
    if os.path.exists(prefix + ".server"):
        # sl_target's /__stats after the run: "total" counts every request it received.
        try:
            row["server_total"] = json.loads(read_text(prefix + ".server")).get("total")
        except ValueError:
            row["server_total"] = None
    if os.path.exists(prefix + ".sigterm"):
        try:
            row["sigterm"] = json.loads(read_text(prefix + ".sigterm"))
        except ValueError:
            row["sigterm"] = None
    if row.get("cap_mib") and (row["requests"] is None or row["rc"] not in (0, 1)):
        row["cap_note"] = capped_text(row, prefix)
    elif row.get("cap_mib") and at_cap(row):
        row["cap_note"] = "reached the cap (%s MiB of address space)" % row["cap_mib"]
    if row["requests"] is None and not row.get("note"):
        err = [line for line in read_text(prefix + ".err").splitlines() if line.strip()]
        row["note"] = "no result (exit %s)%s" % (row["rc"], ": " + err[-1][:120] if err else "")
        if row.get("cap_note"):
            row["note"] = "no result (exit %s): %s" % (row["rc"], row["cap_note"])
    with open(rows_path, "a") as f:
        f.write(json.dumps(row) + "\n")
    # One progress line per run.
    label = "%s %s users%s%s" % (row.get("generator"), row.get("users"),
                                 ", %s threads" % row["threads"] if row.get("test") == "threads"
                                 else "",
                                 ", round %s" % row["round"] if row.get("test") == "main" and
                                 row.get("round") else "")
    if str(row.get("test", "")).startswith("rows"):
        label = "%s, %s thr%s%s" % (row.get("scenario"), row.get("threads"),
                                    ", max-rows %s" % row["max_rows"]
                                    if row.get("max_rows") not in (None, "default") else "",
                                    ", round %s" % row["round"] if row.get("round") else "")
    if row["requests"] is None:
        print("  %-28s %s" % (label, row.get("note")))
    else:
        print("  %-28s %s requests, %s req/s, CPU %.2f s, peak RSS %s, p50 %s ms, failures %s%s"
              % (label, fmt_num(row["requests"]), fmt_num(row.get("rps")), row["cpu_s"] or 0,
                 fmt_kib(row["peak_rss_kib"]), fmt_ms(row.get("p50_ms")),
                 fmt_num(row.get("failures")),
                 ", %s rows, wall %.2f s" % (row.get("stats_rows"), row["wall_s"])
                 if row.get("wall_s") is not None and str(row.get("test")).startswith("rows")
                 else ""))
    sys.stdout.flush()


def at_cap(row):
    """Peak RSS within 10% of the address-space cap: the run was limited by the cap, so its
    figures (RSS, requests, timing) are the cap's, not the program's."""
    rss, cap = row.get("peak_rss_kib"), row.get("cap_mib")
    return bool(rss and cap and rss >= 0.9 * cap * 1024)


def capped_text(row, prefix):
    """Why a run under the address-space cap gave no (or no clean) result: the cap, the
    harness's timeout, or something else, from its exit status and its last words."""
    lines = [line for line in read_text(prefix + ".err").splitlines() if line.strip()]
    said = ": " + lines[-1][:100] if lines else ", nothing on stderr"
    if row["rc"] in (124, 137):
        return "did not end: stopped by the harness's timeout"
    if re.search(r"memory|alloc|ENOMEM", "\n".join(lines), re.I):
        return "over the cap (%s MiB of address space)%s" % (row["cap_mib"], said)
    if row["rc"] == 134:
        return "over the cap (%s MiB of address space): aborted (SIGABRT)%s" % (
            row["cap_mib"], said)
    if row["rc"] is not None and row["rc"] > 128:
        try:
            sig = signal.Signals(row["rc"] - 128).name
        except ValueError:
            sig = "signal %d" % (row["rc"] - 128)
        return "died of %s under the %s MiB cap%s" % (sig, row["cap_mib"], said)
    return "failed under the %s MiB cap" % row["cap_mib"]


def wait_pidfd(pid, fd, timeout_s):
    """Waits at most timeout_s for process pid to exit (its pidfd readable, or polling when
    fd is None). Returns the monotonic time it was seen to exit, or None."""
    end = time.monotonic() + timeout_s
    if fd is not None:
        left = max(0.0, end - time.monotonic())
        ready, _, _ = select.select([fd], [], [], left)
        return time.monotonic() if ready else None
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return time.monotonic()
        if time.monotonic() >= end:
            return None
        time.sleep(0.005)


def cmd_sigterm(args):
    prefix, after_s, bound_s = args[0], float(args[1]), float(args[2])
    cmd = args[4:] if args[3] == "--" else args[3:]
    with open(prefix + ".out", "w") as out, open(prefix + ".err", "w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = None

    def forward(signum, _frame):
        if proc.returncode is None:
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    res = {"signal_after_s": after_s}
    t_exit = wait_pidfd(proc.pid, fd, after_s)
    if t_exit is not None:
        res["exited_before_signal_s"] = round(t_exit - t0, 3)
    else:
        t_sig = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        t_exit = wait_pidfd(proc.pid, fd, bound_s)
        if t_exit is None:
            res["killed_after_s"] = bound_s
            proc.kill()
            t_exit = time.monotonic()
        else:
            res["exit_after_signal_s"] = round(t_exit - t_sig, 3)
        res["signal_at_s"] = round(t_sig - t0, 3)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if fd is not None:
        os.close(fd)
    with open(prefix + ".time", "w") as f:
        f.write("%.2f %.2f %d %.2f\n" % (ru.ru_utime, ru.ru_stime, ru.ru_maxrss, t_exit - t0))
    rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    with open(prefix + ".rc", "w") as f:
        f.write("%d\n" % rc)
    with open(prefix + ".sigterm", "w") as f:
        json.dump(res, f)
    return 0


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def cmd_fetch(args):
    url, out = args
    if not url.startswith("http://127.0.0.1:"):
        print("bench.py fetch: loopback URLs only: %s" % url, file=sys.stderr)
        return 2
    try:
        with _OPENER.open(url, timeout=5.0) as resp:
            data = resp.read()
    except OSError as e:
        print("bench.py fetch %s: %s" % (url, e), file=sys.stderr)
        data = b""
    with open(out, "wb") as f:
        f.write(data)
    return 0


def cmd_stamp(args):
    out_path = args[0]
    cmd = args[2:] if args[1] == "--" else args[1:]
    with open(out_path + ".started", "w") as f:
        f.write("%.6f\n" % time.monotonic())
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    with open(out_path, "w") as out:
        for raw in proc.stdout:
            out.write("%.6f\t%s\n" % (time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
            out.flush()
    return proc.wait()


# ---- report ----------------------------------------------------------------------------

def fmt_num(v, nd=0, none="-"):
    if v is None:
        return none
    return "{:,.{nd}f}".format(v, nd=nd)


def fmt_k(v):
    """Thousands, short: 151k."""
    return "-" if v is None else "%dk" % round(v / 1000.0)


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.3f" % v if v < 10 else "%.1f" % v


def fmt_lat(row, key):
    """A latency for the table; Locust's are whole milliseconds, so 0 means below 1 ms."""
    v = row.get(key)
    if row.get("kind") == "locust" and v is not None:
        return "<1" if v < 1 else "%d" % v
    return fmt_ms(v)


def fmt_kib(v):
    if v is None:
        return "-"
    return "%.1f MiB" % (v / 1024.0) if v >= 1024 else "%d KiB" % v


def per_cpu(row):
    if row.get("requests") and row.get("cpu_s"):
        return row["requests"] / row["cpu_s"]
    return None


def busy_text(row):
    """Busy share of cores 0 and 1 during the run, every process included."""
    b = row.get("busy") or {}
    if "cpu0" not in b or "cpu1" not in b or not b["cpu0"][1] or not b["cpu1"][1]:
        return "-"
    return "%d/%d%%" % (100.0 * b["cpu0"][0] / b["cpu0"][1], 100.0 * b["cpu1"][0] / b["cpu1"][1])


def others_text(row):
    """Share of the server's and the generator's core that other processes took during a
    pinned run: busy time minus nginx's (core 0) or the generator's (core 1). The noise."""
    server_cpu = "cpu%s" % os.environ.get("SERVER_CPU", "0")
    gen_cpu = "cpu%s" % os.environ.get("GEN_CPU", "1")
    b = row.get("busy") or {}
    if server_cpu not in b or gen_cpu not in b or not b[gen_cpu][1]:
        return "-"
    out = []
    for cpu, own in ((server_cpu, row.get("nginx_cpu_s")), (gen_cpu, row.get("cpu_s"))):
        busy, total, _ = b[cpu]
        if own is None or not total:
            out.append("?")
            continue
        out.append("%d" % max(0.0, 100.0 * (busy - own * 100.0) / total))
    steal = b.get("cpu", (0, 0, 0))
    st = (" st%d" % (100.0 * steal[2] / steal[1])) if steal[1] and steal[2] * 100 >= steal[1] else ""
    return "%s/%s%%%s" % (out[0], out[1], st)


def verdict(ok):
    if ok is None:
        return "n/a "
    return "PASS" if ok else "MISS"


def find(rows, test, generator, users=None, threads=None, round_=None):
    """The first row of that test and generator (and users, threads, round when given)."""
    for r in rows:
        if r.get("test") == test and r.get("generator") == generator and \
                (users is None or r.get("users") == users) and \
                (threads is None or r.get("threads") == threads) and \
                (round_ is None or (r.get("round") or 1) == round_):
            return r
    return None


def cmd_report(args):
    rows_path, results_path, commit = args[0], args[1], args[2]
    rows = [json.loads(line) for line in read_text(rows_path).splitlines() if line.strip()]
    derived = []  # (name, value, note): the figures the goals are judged on
    for part in (report_main, report_syscalls, report_memory, report_spawn, report_delay,
                 report_threads, report_rows, report_h2):
        part(rows, derived)
    append_results(rows, derived, results_path, commit)
    return 0


def report_h2(rows, derived):
    """HTTP/2: stormlight --h2c beside h2load on the same h2c nginx, requests per
    CPU-second; the ratio is against h2load at the same number of requests in flight."""
    h2 = [r for r in rows if r.get("test") == "h2"]
    if not h2:
        return
    print()
    print("== HTTP/2 (h2c): stormlight beside h2load, same nginx, GET /hello ==")
    hdr = "%-12s %6s %8s %9s %11s %6s %10s %9s %5s" % (
        "generator", "conns", "streams", "requests", "requests/s", "CPU-s", "req/CPU-s",
        "vs h2load", "fails")
    print(hdr)
    print("-" * len(hdr))
    base = {}
    for r in h2:
        if r["generator"] == "h2load" and per_cpu(r):
            base[r["users"] * r["streams"]] = per_cpu(r)
    for r in h2:
        eff = per_cpu(r)
        b = base.get(r["users"] * r["streams"])
        ratio = eff / b if eff and b and r["generator"] != "h2load" else None
        if r.get("requests") is None:
            print("%-12s %6s %8s   %s" % (r["generator"], r["users"], r["streams"], r.get("note")))
            continue
        print("%-12s %6d %8d %9s %11s %6.2f %10s %9s %5s" % (
            r["generator"], r["users"], r["streams"], fmt_num(r["requests"]),
            fmt_num(r.get("rps")), r["cpu_s"] or 0, fmt_k(eff) if eff else "-",
            "%.2fx" % ratio if ratio else "", fmt_num(r.get("failures"))))
        if ratio:
            derived.append(("h2_per_cpu_vs_h2load_%dx%d" % (r["users"], r["streams"]), ratio,
                            "stormlight --h2c req/CPU-s over h2load's, %d requests in flight"
                            % (r["users"] * r["streams"])))


def median_run(runs):
    """The run with the median requests per CPU-second (the lower middle of an even count),
    so that a table row is one real run, not a mix of figures from several."""
    good = sorted((r for r in runs if per_cpu(r)), key=per_cpu)
    return good[(len(good) - 1) // 2] if good else (runs[0] if runs else None)


def report_main(rows, derived):
    """Each generator alone, pinned: requests per CPU-second, and its ratio to wrk's. With
    several rounds, each generator's median run stands for it."""
    main = [r for r in rows if r.get("test") == "main"]
    if not main:
        return
    user_counts = sorted({r["users"] for r in main})
    gens = []
    for r in main:
        if r["generator"] not in gens:
            gens.append(r["generator"])
    rounds = max(r.get("round") or 1 for r in main)
    print()
    print("== Efficiency: each generator alone on core 1, nginx (1 worker) on core 0, "
          "GET /hello, keep-alive ==")
    if rounds > 1:
        print("(each row: the generator's median run of %d by requests per CPU-second; "
              "'range' spans all its runs)" % rounds)
    hdr = ("%-14s %5s %11s %6s %10s %6s %9s %7s %7s %5s %6s %-15s %s"
           % ("generator", "users", "requests/s", "CPU-s", "req/CPU-s", "vs wrk", "peak RSS",
              "p50 ms", "p99 ms", "fails", "nginx", "range req/CPU-s", "others c0/c1"))
    print(hdr)
    print("-" * len(hdr))
    chosen = {}
    for n in user_counts:
        for g in gens:
            runs = [r for r in main if r["users"] == n and r["generator"] == g]
            if runs:
                chosen[(n, g)] = median_run(runs)
                chosen[(n, g)]["median_of"] = len(runs)
        base = per_cpu(chosen[(n, "wrk")]) if (n, "wrk") in chosen else None
        for g in gens:
            r = chosen.get((n, g))
            if r is None:
                continue
            runs = [x for x in main if x["users"] == n and x["generator"] == g and per_cpu(x)]
            eff = per_cpu(r)
            r["ratio_to_wrk"] = eff / base if eff and base else None
            if r.get("requests") is None:
                print("%-14s %5d   %s" % (g, n, r.get("note") or "no result"))
                continue
            span = ("%s-%s" % (fmt_k(min(per_cpu(x) for x in runs)),
                               fmt_k(max(per_cpu(x) for x in runs)))) if len(runs) > 1 else ""
            print("%-14s %5d %11s %6.2f %10s %6s %9s %7s %7s %5s %6s %-15s %s" % (
                g, n, fmt_num(r.get("rps")), r["cpu_s"] or 0, fmt_num(eff),
                "%.2fx" % r["ratio_to_wrk"] if r["ratio_to_wrk"] else "-",
                fmt_kib(r.get("peak_rss_kib")), fmt_lat(r, "p50_ms"),
                fmt_lat(r, "p99_ms"), fmt_num(r.get("failures")),
                "%.2f" % r["nginx_cpu_s"] if r.get("nginx_cpu_s") is not None else "-",
                span, others_text(r)))
        print()
    print("CPU-s: user + system time of the generator's whole process; nginx: its worker's "
          "CPU-s in the same run.\nothers c0/c1: share of the server's / the generator's core "
          "taken by other processes during the run (the noise).")
    for r in main:
        r.setdefault("ratio_to_wrk", None)
        if r.get("ratio_to_wrk") is None:
            b = chosen.get((r["users"], "wrk"))
            if b and per_cpu(b) and per_cpu(r):
                r["ratio_to_wrk"] = per_cpu(r) / per_cpu(b)

    print()
    print("== Goals (requests per CPU-second, median runs of the same invocation) ==")
    for n in user_counts:
        sl = chosen.get((n, "stormlight"))
        for label, goal in (("wrk", 1.15), ("floor", 0.90)):
            other = chosen.get((n, label))
            a, b = (per_cpu(sl) if sl else None), (per_cpu(other) if other else None)
            ratio = a / b if a and b else None
            ok = None if ratio is None else ratio >= goal
            # The same ratio round by round (runs of one round are minutes apart at most).
            paired = []
            for k in range(1, rounds + 1):
                x = find(rows, "main", "stormlight", n, round_=k)
                y = find(rows, "main", label, n, round_=k)
                if x and y and per_cpu(x) and per_cpu(y):
                    paired.append("%.2f" % (per_cpu(x) / per_cpu(y)))
            print("  %s  stormlight/%-5s at %3d users: %s (goal >= %.2f)%s"
                  % (verdict(ok), label, n, "%.3f" % ratio if ratio else "n/a", goal,
                     "; round by round " + " ".join(paired) if len(paired) > 1 else ""))
            derived.append(("stormlight/%s@%d" % (label, n), ratio,
                            "goal >= %.2f %s; rounds %s" % (goal, verdict(ok).strip(),
                                                           " ".join(paired))))
        # A scripted one-request task (issue 5): the Lua path against wrk.
        lua, wrk = chosen.get((n, "stormlight-lua")), chosen.get((n, "wrk"))
        if lua and wrk and per_cpu(lua) and per_cpu(wrk):
            ratio = per_cpu(lua) / per_cpu(wrk)
            ok = ratio >= 0.8
            print("  %s  stormlight-lua/wrk at %3d users: %.3f (goal >= 0.80)"
                  % (verdict(ok), n, ratio))
            derived.append(("stormlight-lua/wrk@%d" % n, ratio,
                            "goal >= 0.80 %s" % verdict(ok).strip()))


def report_syscalls(rows, derived):
    """System calls per request under strace -f -c."""
    if not find(rows, "syscalls", "stormlight"):
        return
    print()
    print("== System calls per request (strace -f -c, 10 users, 1 thread, 3 s) ==")
    for gen in ("stormlight", "floor", "wrk"):
        r = find(rows, "syscalls", gen)
        if not r:
            continue
        if not r.get("syscalls") or not r.get("requests"):
            print("  %-10s no result: %s" % (gen, r.get("note") or "strace or run failed"))
            continue
        c, req = r["syscalls"], r["requests"]
        parts = {k: sum(c.get(x, 0) for x in names) for k, names in
                 (("write", WRITE_CALLS), ("read", READ_CALLS), ("wait", WAIT_CALLS),
                  ("ctl", CTL_CALLS))}
        per_req = sum(parts.values()) / req
        line = ("%-10s %.3f per request (write %.3f, read %.3f, epoll wait %.3f, epoll_ctl "
                "%d calls = %.4f; every syscall: %.3f; %s requests)"
                % (gen, per_req, parts["write"] / req, parts["read"] / req, parts["wait"] / req,
                   parts["ctl"], parts["ctl"] / req, sum(c.values()) / req, fmt_num(req)))
        if gen == "stormlight":
            ok = per_req <= 2.3
            print("  %s  %s (goal <= 2.3)" % (verdict(ok), line))
            derived.append(("syscalls_per_request", per_req, "goal <= 2.3 %s" % verdict(ok)))
            derived.append(("epoll_ctl_calls", parts["ctl"], "in %d requests" % req))
        else:
            print("        %s" % line)
        r["value"] = per_req
        r["note_extra"] = "epoll_ctl=%d" % parts["ctl"]


def report_memory(rows, derived):
    """Peak RSS per extra user between a 10-user and a 10,000-user run."""
    if not find(rows, "memory", "stormlight"):
        return
    print()
    print("== Memory: peak RSS, keep-alive, 1 thread, 5 s ==")
    for gen in ("stormlight", "stormlight-lua", "wrk"):
        runs = sorted((r for r in rows if r.get("test") == "memory" and
                       r.get("generator") == gen), key=lambda r: r["users"])
        if len(runs) < 2:
            continue
        s, b = runs[0], runs[-1]
        if not s.get("peak_rss_kib") or not b.get("peak_rss_kib"):
            print("  %-10s no result" % gen)
            continue
        per = (b["peak_rss_kib"] - s["peak_rss_kib"]) / (b["users"] - s["users"])
        line = ("%-10s %d users: %s, %d users: %s -> %.2f KiB per extra user (at %d users: %s "
                "requests, %s failed)"
                % (gen, s["users"], fmt_kib(s["peak_rss_kib"]), b["users"],
                   fmt_kib(b["peak_rss_kib"]), per, b["users"], fmt_num(b.get("requests")),
                   fmt_num(b.get("failures"))))
        if gen in ("stormlight", "stormlight-lua"):
            goal = 4.0 if gen == "stormlight" else 8.0
            ok = per <= goal
            print("  %s  %s (goal <= %g)" % (verdict(ok), line, goal))
            derived.append(("kib_per_user" if gen == "stormlight" else "kib_per_scripted_user",
                            per, "goal <= %g %s" % (goal, verdict(ok))))
            if b.get("errors"):
                print("        errors: %s" % b["errors"])
        else:
            print("        %s" % line)
        b["value"] = per


def report_spawn(rows, derived):
    """Many users spawned at once: no errors, all users running, a live view on time."""
    r = find(rows, "spawn", "stormlight")
    if not r:
        return
    print()
    print("== Many users: %d users spawned at once, default threads, %s s =="
          % (r["users"], r.get("seconds")))
    errs = sum(e[1] or 0 for e in r.get("errors") or [])
    fails = r.get("failures")
    reached = r.get("max_users_seen")
    ok = fails == 0 and errs == 0 and reached == r["users"]
    print("  %s  users reached %s / %s, requests %s, failures %s, errors %s, exit %s"
          % (verdict(ok), fmt_num(reached), r["users"], fmt_num(r.get("requests")),
             fmt_num(fails), r.get("errors") or "none", r.get("rc")))
    derived.append(("spawn_%d_users_reached" % r["users"], reached,
                    "failures=%s errors=%s %s" % (fails, errs, verdict(ok))))
    r["value"] = reached
    if r.get("live_view"):
        # On time means: a table about every 2 s that already shows every user running and
        # requests completing (a worker stuck spawning publishes nothing: stale zeros).
        live = r["live_view"][:-1] or r["live_view"]
        fresh = all(u == r["users"] and (q or 0) > 0 for _, u, q in live)
        gap_ok = r.get("live_max_gap_s") is None or r["live_max_gap_s"] <= 2.5
        print("  %s  live view on time and current: tables at %s" % (
            verdict(fresh and gap_ok), ", ".join(
                "%ss (%s users, %s requests)" % (e, fmt_num(u), fmt_num(q))
                for e, u, q in r["live_view"])))
        if r.get("live_max_gap_s") is not None:
            print("        first table %.2f s after start, longest gap %.2f s"
                  % (r.get("live_first_s") or 0, r["live_max_gap_s"]))
        derived.append(("spawn_live_view_current", 1 if fresh and gap_ok else 0,
                        "tables (elapsed, users, requests) %s" % r["live_view"]))
    print("        peak RSS %s, CPU %.2f s, %s worker threads; %s sockets in TIME_WAIT on the "
          "machine before the run" % (fmt_kib(r.get("peak_rss_kib")), r.get("cpu_s") or 0,
                                      r.get("json_threads"), fmt_num(r.get("time_wait"))))


def report_delay(rows, derived):
    """Timing overhead: stormlight's p50 against the floor's on a fixed-delay target."""
    fl, sl = find(rows, "delay", "floor"), find(rows, "delay", "stormlight")
    if not fl or not sl:
        return
    print()
    print("== Timing overhead: GET /delay/20 on sl_target, 10 connections, %s s =="
          % sl.get("seconds"))
    if fl.get("p50_ms") is None or sl.get("p50_ms") is None:
        print("  no result (floor: %s, stormlight: %s)" % (fl.get("note"), sl.get("note")))
        return
    diff = sl["p50_ms"] - fl["p50_ms"]
    ok = abs(diff) <= 0.1
    print("  %s  p50 floor %.3f ms, stormlight %.3f ms: difference %+.3f ms (goal within 0.1 "
          "ms); p99 floor %s, stormlight %s" % (verdict(ok), fl["p50_ms"], sl["p50_ms"], diff,
                                                fmt_ms(fl.get("p99_ms")), fmt_ms(sl.get("p99_ms"))))
    derived.append(("delay_p50_diff_ms", diff, "goal |diff| <= 0.1 %s" % verdict(ok)))
    sl["value"] = diff


def report_threads(rows, derived):
    """--threads 1 against --threads 2 at 100 users, not pinned."""
    t1 = find(rows, "threads", "stormlight", threads=1)
    t2 = find(rows, "threads", "stormlight", threads=2)
    if not t1 or not t2:
        return
    print()
    print("== Threads: stormlight at %d users, not pinned (nginx keeps its one worker on core "
          "0 and shares it) ==" % t1["users"])
    for r in (t1, t2):
        print("  --threads %d: %s requests/s, CPU %.2f s, %s requests per CPU-s, p50 %s ms, "
              "p99 %s ms, busy c0/c1 %s" % (
                  r["threads"], fmt_num(r.get("rps")), r.get("cpu_s") or 0, fmt_num(per_cpu(r)),
                  fmt_ms(r.get("p50_ms")), fmt_ms(r.get("p99_ms")), busy_text(r)))
    if t1.get("rps") and t2.get("rps"):
        ratio = t2["rps"] / t1["rps"]
        print("  1 -> 2 threads: %.2fx requests/s" % ratio)
        derived.append(("threads_2_over_1_rps", ratio, "100 users, unpinned"))
        t2["value"] = ratio


# A run "ends on time" when the process lasts at most this long past its -t: start-up, the
# stop and the reports fit in it on this machine; a row-bound stall does not.
ROWS_ON_TIME_S = 1.0

ROWS_LABELS = {
    ("rows1", "default"): "1 row (Task{})",
    ("rows200", "default"): "200 rows (Task{} name=)",
    ("lua1", "default"): "1 row (User{})",
    ("names5000", "default"): "5,000 names, no name=",
    ("names5000", 10000): "5,000 names, --max-rows 10000",
}
# Which 1-row run each many-row scenario is compared with (same kind of user).
ROWS_BASE = {"rows200": "rows1", "names5000": "lua1"}


def rows_label(r):
    return ROWS_LABELS.get((r.get("scenario"), r.get("max_rows")), str(r.get("scenario")))


def rows_accounted(r):
    """Every completed request in exactly one row and in exactly one history second."""
    if r.get("requests") is None or r.get("stats_sum") is None:
        return None
    return r["stats_sum"] == r["requests"] and r.get("history_sum") == r["requests"]


def rows_on_time(r):
    if r.get("wall_s") is None or r.get("rc") in (124, 137):
        return False
    return r["wall_s"] <= r["seconds"] + ROWS_ON_TIME_S


def rows_per_row_kib(r, base):
    """(RSS(n rows) - RSS(1 row)) / n / threads, n the rows the run's JSON has."""
    n = r.get("stats_rows") or r.get("rows")
    if not r.get("peak_rss_kib") or not base or not base.get("peak_rss_kib") or not n or \
            r.get("requests") is None or at_cap(r) or not rows_accounted(r):
        return None
    return (r["peak_rss_kib"] - base["peak_rss_kib"]) / float(n) / r["threads"]


def report_rows(rows, derived):
    """Issue 10: memory with many rows, runs ending on time, requests accounted for, 2,000
    rows against one, and the stop after SIGTERM."""
    runs = [r for r in rows if r.get("test") == "rows"]
    if not runs and not find(rows, "rows-tput", "stormlight"):
        return
    threads = sorted({r["threads"] for r in runs})
    keys = []
    for r in runs:
        k = (r.get("scenario"), r.get("max_rows"))
        if k not in keys:
            keys.append(k)

    def cell(k, t):
        for r in runs:
            if (r.get("scenario"), r.get("max_rows")) == k and r["threads"] == t:
                return r
        return None

    if runs:
        r0 = runs[0]
        print()
        print("== Many rows: peak RSS, %s users, %s s, -q, nginx on 127.0.0.1, not pinned, "
              "address space capped at %s MiB ==" % (r0["users"], r0["seconds"], r0["cap_mib"]))
        hdr = "%-30s %11s" % ("scenario", "rows") + "".join(
            " %13s" % ("--threads %d" % t) for t in threads)
        print(hdr)
        print("-" * len(hdr))
        for k in keys:
            cs = [cell(k, t) for t in threads]
            seen = "/".join(str(c.get("stats_rows")) if c and c.get("requests") is not None
                            else "-" for c in cs)
            print("%-30s %11s" % (rows_label(cs[0] or {"scenario": k[0]}), seen) + "".join(
                " %13s" % (fmt_kib(c.get("peak_rss_kib")) + ("*" if at_cap(c) else "")
                           if c and c.get("requests") is not None
                           else "over the cap" if c and "over the cap" in (c.get("note") or "")
                           else "did not end" if c and "did not end" in (c.get("note") or "")
                           else "no result" if c else "-") for c in cs))
        if any(at_cap(r) and r.get("requests") is not None for r in runs):
            print("* at the cap: the run was held to it, so the figure is the cap's")
        print()
        print("RSS per row per thread, KiB: (RSS(n rows) - RSS(1 row of the same kind)) / n / "
              "threads, n = rows in the JSON (none for runs at the cap or not accounted)")
        for k in keys:
            if k[0] not in ROWS_BASE:
                continue
            vals = []
            for t in threads:
                c, b = cell(k, t), cell((ROWS_BASE[k[0]], "default"), t)
                v = rows_per_row_kib(c, b) if c else None
                if c is not None:
                    c["value"] = v
                vals.append(v)
                if v is not None:
                    derived.append(("rss_kib_per_row_thread %s %dthr" % (rows_label(c), t), v,
                                    "rows=%s" % c.get("stats_rows")))
            print("%-30s %11s" % (rows_label({"scenario": k[0], "max_rows": k[1]}), "") + "".join(
                " %13s" % ("%.2f" % v if v is not None else "-") for v in vals))

        print()
        print("Each run: every request in one row and one history second (rows sum, history "
              "sum = total); wall time of the process against -t (on time: <= -t + %.0f s)"
              % ROWS_ON_TIME_S)
        hdr = ("%-30s %3s %5s %10s %9s %9s %6s %6s %7s %8s %7s %s"
               % ("scenario", "thr", "rows", "requests", "rows sum", "hist sum", "flight",
                  "hist", "wall s", "duration", "on time", "exit / note"))
        print(hdr)
        print("-" * len(hdr))
        for k in keys:
            for t in threads:
                c = cell(k, t)
                if c is None:
                    continue
                if c.get("requests") is None:
                    print("%-30s %3d  %s" % (rows_label(c), t, c.get("note")))
                    continue
                print("%-30s %3d %5s %10s %9s %9s %6s %6s %7s %8s %7s %s" % (
                    rows_label(c), t, c.get("stats_rows"), fmt_num(c["requests"]),
                    fmt_num(c.get("stats_sum")), fmt_num(c.get("history_sum")),
                    fmt_num(c.get("in_flight_at_stop")), c.get("history_points"),
                    "%.2f" % c["wall_s"] if c.get("wall_s") is not None else "-",
                    "%.3f" % c["duration_s"] if c.get("duration_s") is not None else "-",
                    "yes" if rows_on_time(c) else "NO",
                    "%s%s%s%s" % (c.get("rc"), "; accounted" if rows_accounted(c) else
                                  "; NOT accounted", "; overflow row %r" % c["overflow_rows"][0]
                                  if c.get("overflow_rows") else "",
                                  "; " + c["cap_note"] if c.get("cap_note") else "")))

    rec = find(rows, "rows-reconcile", "stormlight")
    rec_ok = None
    if rec:
        print()
        if rec.get("requests") is None or rec.get("server_total") is None:
            print("  %s  against sl_target (5,000 names, %s threads): %s"
                  % (verdict(False), rec["threads"], rec.get("note") or "no /__stats"))
            rec_ok = False
        else:
            slack = (rec.get("in_flight_at_stop") or 0) + (rec.get("retries") or 0)
            tool, server = rec["stats_sum"], rec["server_total"]
            # The contract of tests/e2e/harness.py check_reconciles: the server saw between
            # the tool's count and that count plus in_flight_at_stop and retries.
            rec_ok = (tool <= server <= tool + slack and rows_accounted(rec) is True)
            print("  %s  against sl_target, 5,000 names, %d threads, %s s: rows sum %s, total %s, "
                  "server saw %s (allowed %s..%s: in flight %s, retries %s); %s rows, wall %.2f s"
                  % (verdict(rec_ok), rec["threads"], rec["seconds"], fmt_num(tool),
                     fmt_num(rec["requests"]), fmt_num(server), fmt_num(tool),
                     fmt_num(tool + slack), rec.get("in_flight_at_stop"), rec.get("retries"),
                     rec.get("stats_rows"), rec.get("wall_s") or 0))
        derived.append(("rows_reconcile_sl_target", rec.get("server_total"),
                        "tool %s %s" % (rec.get("stats_sum"), verdict(rec_ok).strip())))

    tput = [r for r in rows if r.get("test") == "rows-tput"]
    tput_ratio = tput_cpu_ratio = None
    two_k = None
    if tput:
        print()
        print("== 2,000 rows against 1 row: Task{}, %s users, --threads 8, %s s, not pinned, "
              "in rounds ==" % (tput[0]["users"], tput[0]["seconds"]))
        rounds = max(r.get("round") or 1 for r in tput)
        chosen = {}
        for n in (1, 2000):
            rs = [r for r in tput if r.get("rows") == n]
            chosen[n] = median_run(rs) if rs else None
        for n in (1, 2000):
            r = chosen[n]
            rs = [x for x in tput if x.get("rows") == n]
            if r is None or r.get("requests") is None:
                print("  %4d row%s: %s" % (n, "" if n == 1 else "s",
                                           (r or {}).get("note") or "no result"))
                continue
            print("  %4d row%s: %s requests/s, CPU %.2f s, %s requests per CPU-s, p50 %s ms, "
                  "%s rows, wall %.2f s (on time: %s), history %s points, accounted: %s; "
                  "rounds req/s %s" % (
                      n, "" if n == 1 else "s", fmt_num(r.get("rps")), r.get("cpu_s") or 0,
                      fmt_num(per_cpu(r)),
                      fmt_ms(r.get("p50_ms")), r.get("stats_rows"), r.get("wall_s") or 0,
                      "yes" if rows_on_time(r) else "NO", r.get("history_points"),
                      "yes" if rows_accounted(r) else "NO",
                      " ".join(fmt_k(x.get("rps")) for x in rs)))
        a, b = chosen.get(2000), chosen.get(1)
        if a and b and a.get("rps") and b.get("rps"):
            tput_ratio = a["rps"] / b["rps"]
        if a and b and per_cpu(a) and per_cpu(b):
            tput_cpu_ratio = per_cpu(a) / per_cpu(b)
        paired = []
        for k in range(1, rounds + 1):
            xs = [r for r in tput if (r.get("round") or 1) == k]
            x = next((r for r in xs if r.get("rows") == 2000), None)
            y = next((r for r in xs if r.get("rows") == 1), None)
            if x and y and x.get("rps") and y.get("rps"):
                paired.append("%.2f" % (x["rps"] / y["rps"]))
        print("  2,000 rows / 1 row (median runs): requests/s %s, requests per CPU-s %s%s" % (
            "%.3f" % tput_ratio if tput_ratio else "n/a",
            "%.3f" % tput_cpu_ratio if tput_cpu_ratio else "n/a",
            "; requests/s round by round " + " ".join(paired) if paired else ""))
        two_k = a
        if a is not None:
            a["value"] = tput_ratio

    sig = find(rows, "rows-sigterm", "stormlight")
    sig_s = None
    if sig:
        info = sig.get("sigterm") or {}
        sig_s = info.get("exit_after_signal_s")
        print()
        if sig_s is not None:
            text = "exited %.3f s after SIGTERM (sent at %.2f s), exit %s" % (
                sig_s, info.get("signal_at_s") or 0, sig.get("rc"))
        elif info.get("killed_after_s") is not None:
            text = "still running %s s after SIGTERM: killed" % info["killed_after_s"]
        elif info.get("exited_before_signal_s") is not None:
            text = "exited before the signal, at %.2f s: %s" % (
                info["exited_before_signal_s"], sig.get("note") or "exit %s" % sig.get("rc"))
        else:
            text = "no result"
        print("  SIGTERM, 2,000 rows, 8 threads: %s; peak RSS %s; %s requests, summary written: "
              "%s" % (text, fmt_kib(sig.get("peak_rss_kib")), fmt_num(sig.get("requests")),
                      "yes" if sig.get("requests") is not None else "no"))
        sig["value"] = sig_s
        derived.append(("sigterm_2000_rows_exit_s", sig_s, text))

    print()
    print("== Goals (issue 10, many rows) ==")

    def goal_rss(label, r, limit_mib, key, need_on_time, min_rows=None):
        if r is None:
            return
        rss = r.get("peak_rss_kib") if r.get("requests") is not None else None
        ok = rss is not None and rss <= limit_mib * 1024
        extra = ""
        if need_on_time:
            ok = ok and rows_on_time(r) and rows_accounted(r) is True
            extra = "; ended on time: %s (wall %s s for -t %s s); every request accounted: %s" % (
                "yes" if rows_on_time(r) else "NO",
                "%.2f" % r["wall_s"] if r.get("wall_s") is not None else "-", r["seconds"],
                "yes" if rows_accounted(r) else "NO")
        if min_rows is not None:
            # Low memory must not come from names merged away: the rows must be there.
            got = r.get("stats_rows") if r.get("requests") is not None else None
            ok = ok and got is not None and got >= min_rows
            extra += "; %s rows (goal >= %s)%s" % (
                got if got is not None else "-", fmt_num(min_rows),
                ", overflow row %r" % r["overflow_rows"][0] if r.get("overflow_rows") else "")
        print("  %s  %s: peak RSS %s (goal <= %d MiB)%s" % (
            verdict(ok), label, fmt_kib(rss) + (" (%s)" % r["cap_note"] if r.get("cap_note")
                                                else "") if rss is not None
            else "- (%s)" % (r.get("note") or "no result"), limit_mib, extra))
        derived.append((key, rss, "goal <= %d MiB %s" % (limit_mib, verdict(ok).strip())))

    if runs:
        goal_rss("200 rows at 8 threads", cell(("rows200", "default"), 8), 64,
                 "rss_kib_200_rows_8thr", False)
        # Rows expected: the announced default --max-rows (2,000) and its overflow row, or,
        # with --max-rows 10000, more rows than that default allows.
        goal_rss("5,000 ungrouped names at 2 threads", cell(("names5000", "default"), 2), 256,
                 "rss_kib_5000_names_2thr", True, min_rows=2000)
        if cell(("names5000", 10000), 2):
            goal_rss("5,000 names at 2 threads, --max-rows 10000", cell(("names5000", 10000), 2),
                     256, "rss_kib_5000_names_2thr_maxrows10000", True, min_rows=2002)
    if tput:
        for what, ratio in (("requests/s", tput_ratio), ("requests per CPU-s", tput_cpu_ratio)):
            ok = None if ratio is None else ratio >= 0.90
            if ratio is None and two_k is not None:
                ok = False
            print("  %s  2,000 rows / 1 row at 8 threads, %s: %s (goal >= 0.90)" % (
                verdict(ok), what, "%.3f" % ratio if ratio else "n/a, 2,000 rows: " +
                ((two_k or {}).get("cap_note") or (two_k or {}).get("note") or "no result")))
            derived.append(("rows_2000_over_1_%s" % ("rps" if what == "requests/s" else
                                                    "req_per_cpu_s"), ratio,
                            "goal >= 0.90 %s" % verdict(ok).strip()))
        if two_k is not None and two_k.get("requests") is None:
            print("  %s  2,000 rows at 8 threads ends at -t: no result, %s" % (
                verdict(False), two_k.get("cap_note") or two_k.get("note")))
        elif two_k is not None:
            ok = rows_on_time(two_k) and \
                rows_accounted(two_k) is True and \
                (two_k.get("history_points") or 0) >= int(two_k["seconds"])
            print("  %s  2,000 rows at 8 threads ends at -t: wall %s s for -t %s s, %s history "
                  "points, every request accounted: %s" % (
                      verdict(ok), "%.2f" % two_k["wall_s"] if two_k.get("wall_s") else "-",
                      two_k["seconds"], two_k.get("history_points"),
                      "yes" if rows_accounted(two_k) else "NO"))
    if sig:
        ok = sig_s is not None and sig_s <= 1.0
        print("  %s  2,000 rows at 8 threads stops within 1 s of SIGTERM: %s" % (
            verdict(ok), "%.3f s" % sig_s if sig_s is not None else "no"))
    if rec:
        print("  %s  5,000 names against sl_target: every request accounted for" % verdict(rec_ok))


def append_results(rows, derived, results_path, commit):
    """Appends every run and every derived figure to the results file."""
    new = not os.path.exists(results_path) or os.path.getsize(results_path) == 0
    os.makedirs(os.path.dirname(results_path) or ".", exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(results_path, "a") as f:
        if new:
            f.write("\t".join(TSV_FIELDS) + "\n")

        def cell(v):
            if v is None:
                return ""
            if isinstance(v, float):
                return "%.6g" % v if abs(v) < 1e6 else "%.1f" % v
            return str(v).replace("\t", " ").replace("\n", " ")

        for r in rows:
            rows_note = None
            if str(r.get("test", "")).startswith("rows"):
                rows_note = "scenario %s, max-rows %s, %s rows in JSON, wall %s s%s" % (
                    r.get("scenario"), r.get("max_rows", "default"), r.get("stats_rows"),
                    r.get("wall_s"), ", " + r["cap_note"] if r.get("cap_note") and
                    r["cap_note"] not in (r.get("note") or "") else "")
                if r.get("sigterm"):
                    rows_note += ", sigterm %s" % json.dumps(r["sigterm"])
            note = "; ".join(x for x in (r.get("note"), rows_note, r.get("note_extra"),
                                         ("busy c0/c1 " + busy_text(r)) if r.get("busy") else None,
                                         ("others c0/c1 " + others_text(r))
                                         if r.get("busy") and r.get("test") != "threads" else None,
                                         ("nginx CPU %.2f s" % r["nginx_cpu_s"])
                                         if r.get("nginx_cpu_s") is not None else None,
                                         ("exit %s" % r["rc"]) if r.get("rc") else None) if x)
            vals = dict(r, commit=commit, req_per_cpu_s=per_cpu(r), note=note)
            f.write("\t".join(cell(vals.get(k)) for k in TSV_FIELDS) + "\n")
        for name, value, note in derived:
            vals = {"timestamp": now, "commit": commit, "test": "result", "generator": name,
                    "value": value, "note": note}
            f.write("\t".join(cell(vals.get(k)) for k in TSV_FIELDS) + "\n")
    print()
    print("%d rows and %d results appended to %s" % (len(rows), len(derived), results_path))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "record" and len(args) >= 3:
        cmd_record(args)
        return 0
    if cmd == "stamp" and len(args) >= 2:
        return cmd_stamp(args)
    if cmd == "sigterm" and len(args) >= 4:
        return cmd_sigterm(args)
    if cmd == "fetch" and len(args) == 2:
        return cmd_fetch(args)
    if cmd == "report" and len(args) == 3:
        return cmd_report(args)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
