"""The tool on a real terminal: a pseudo-terminal of 80 columns, in the foreground or in a
background process group, interrupted with Ctrl-C typed on it. The terminal's settings
(`stty -g`) must be the same after the run as before, whatever way the run ended."""

import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

import harness
from harness import Target, check, check_eq

# Runs as the session leader of the pty, with the pty as its controlling terminal, as a
# login shell would; starts the tool in its own (foreground) process group or, with
# "bg", in a new process group, as `cmd &` from an interactive shell does. Prints the
# tool's PID, then exits with its status. It ignores SIGINT and SIGQUIT itself: Ctrl-C
# and Ctrl-\ are for the tool.
HELPER = r"""
import os, signal, subprocess, sys, fcntl, termios
tty, mode, *argv = sys.argv[1:]
os.setsid()
fd = os.open(tty, os.O_RDWR)
fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGQUIT, signal.SIG_IGN)
def child():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
p = subprocess.Popen(argv, stdin=fd, stdout=fd, stderr=fd, preexec_fn=child,
                     process_group=0 if mode == "bg" else None)
print(p.pid, flush=True)
rc = p.wait()
sys.exit(rc if rc >= 0 else 128 - rc)
"""


def stty_g(fd):
    return subprocess.run(["stty", "-g"], stdin=fd, capture_output=True, check=True).stdout


class Pty:
    """Runs stormlight on a fresh pty of cols x rows; collects everything it prints."""

    def __init__(self, args, cols=80, rows=24, background=False, cwd=None):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.stty_before = stty_g(self.slave)
        self.out = b""
        self.helper = subprocess.Popen(
            [sys.executable, "-c", HELPER, os.ttyname(self.slave), "bg" if background else "fg",
             harness.SL_BIN, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, cwd=cwd)
        line = self.helper.stdout.readline()
        self.pid = int(line) if line.strip().isdigit() else None

    def pump(self, seconds):
        """Reads output for up to seconds, or until the tool has exited."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    break
            elif self.helper.poll() is not None:
                break

    def wait_for(self, pattern, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not re.search(pattern, self.out):
            if self.helper.poll() is not None:
                self.pump(0.2)
                break
            self.pump(0.1)
        return re.search(pattern, self.out) is not None

    def type(self, data):
        os.write(self.master, data)

    def finish(self, seconds):
        """Waits for the tool to exit; returns its status, or None (then it was killed)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.helper.poll() is None:
            self.pump(0.1)
        self.pump(0.2)
        rc = self.helper.poll()
        if rc is None:
            # Stopped (SIGTTOU) or hung: end it by its own PID, then the helper.
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.helper.wait(timeout=5)
        self.stty_after = stty_g(self.slave)
        os.close(self.master)
        os.close(self.slave)
        self.helper.stdout.close()
        return rc

    def text(self):
        return self.out.decode(errors="replace")


def scenario_dir(text):
    d = tempfile.mkdtemp(prefix="sl-tty-")
    harness.write_scenario(d, text)
    return d


SIMPLE = """\
User{ tasks = { function(u) u:get("/x") u:sleep(0.05) end } }
"""


def test_background_process_group_runs_without_keys():
    d = scenario_dir(SIMPLE)
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "2", "-r", "100", "-t", "2s"], background=True, cwd=d)
            rc = p.finish(15)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check(rc is not None, f"the tool did not finish in the background (stopped by SIGTTOU?): "
                          f"{p.text()[-500:]!r}")
    check_eq(rc, 0, f"exit code ({p.text()[-800:]!r})")
    check("Aggregated" in p.text(), f"the summary was printed: {p.text()[-500:]!r}")
    check("keys:" not in p.text(), "no live keys offered in the background")
    check_eq(p.stty_after, p.stty_before, "terminal settings")


ON_STOP = """\
User{ tasks = { function(u) u:get("/x") u:sleep(0.1) end },
      on_stop = function(u) u:get("/bye") u:sleep(60) end }
"""


def test_second_ctrl_c_writes_what_is_known():
    d = scenario_dir(ON_STOP)
    summary = os.path.join(d, "out.json")
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "2", "-r", "100", "-t", "60s", "--stop-timeout", "50s",
                     "--json", summary], cwd=d)
            saw_view = p.wait_for(rb"Aggregated", 8)
            # Raw mode (no echo) is on while the live view runs: Ctrl-C still signals.
            p.type(b"\x03")
            announced = p.wait_for(rb"on_stop.*Ctrl-C again to skip it", 5)
            p.type(b"\x03")
            rc = p.finish(10)
            text = p.text()
            data = None
            if os.path.exists(summary):
                with open(summary) as f:
                    data = json.load(f)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check(saw_view, f"the live view was drawn: {text[-500:]!r}")
    check(announced, f"the wait for on_stop was announced: {text[-800:]!r}")
    check_eq(rc, 130, f"exit code ({text[-800:]!r})")
    check(data is not None, "the JSON summary was written")
    check_eq(data.get("interrupted"), True, "interrupted")
    byes = [r for r in data["stats"] if r["name"] == "/bye"]
    check(byes and byes[0]["num_requests"] == 2, f"on_stop's requests counted: {byes!r}")
    check_eq(p.stty_after, p.stty_before, "terminal settings")


def test_one_ctrl_c_restores_the_terminal():
    d = scenario_dir(SIMPLE)
    summary = os.path.join(d, "out.json")
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "2", "-r", "100", "-t", "60s", "--json", summary],
                    cwd=d)
            p.wait_for(rb"Aggregated", 8)
            p.type(b"\x03")
            rc = p.finish(10)
            with open(summary) as f:
                data = json.load(f)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check_eq(rc, 0, f"exit code ({p.text()[-800:]!r})")
    check_eq(data.get("interrupted"), False, "interrupted")
    check_eq(p.stty_after, p.stty_before, "terminal settings")


def test_ctrl_backslash_restores_the_terminal():
    import resource
    d = scenario_dir(SIMPLE)
    # SIGQUIT dumps core by default: not here (the limit is inherited by the tool).
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "2", "-r", "100", "-t", "60s"], cwd=d)
            p.wait_for(rb"Aggregated", 8)
            p.type(b"\x1c")
            rc = p.finish(10)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
        shutil.rmtree(d, ignore_errors=True)
    check_eq(rc, 128 + signal.SIGQUIT, f"died of SIGQUIT ({p.text()[-500:]!r})")
    check_eq(p.stty_after, p.stty_before, "terminal settings")


LONG_NAMES = r"""
User{ tasks = {
  function(u) u:get("/x", {name = "/a/very/long/name/of/a/resource/that/goes/on/and/on/[id]"})
              u:sleep(0.05) end,
  function(u) u:get("/y", {name = "/caf\u{E9}/\u{FC}n\u{EF}c\u{F6}d\u{E9}/\u{540D}\u{524D}/long/enough/[n]"})
              u:sleep(0.05) end,
  function(u) u:get("/status/503") u:sleep(0.05) end,
} }
"""

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def columns(line):
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def test_live_view_fits_80_columns():
    d = scenario_dir(LONG_NAMES)
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "3", "-r", "100", "-t", "5s"], cols=80, cwd=d)
            rc = p.finish(20)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check_eq(rc, 1, f"exit code (503s fail) ({p.text()[-500:]!r})")
    text = ANSI.sub(b"", p.out).decode(errors="replace")
    lines = re.split(r"\r?\n|\r", text)
    wide = [(columns(l), l) for l in lines if columns(l) > 80]
    check(not wide, f"{len(wide)} lines wider than 80 columns, e.g. {wide[:2]!r}")
    check(text.count("Aggregated") >= 3, "two live frames and the summary")
    check("Med(ms)" in text and "95%" in text, "the median and p95 columns are kept")
    check("\u2026" in text and "on/and/on/[id]" in text,
          f"a long name keeps its end: {text[-1500:]!r}")
    check("503" in text, "the error table is there")
    check_eq(p.stty_after, p.stty_before, "terminal settings")


def test_resize_redraws_at_the_new_width():
    d = scenario_dir(LONG_NAMES)
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "3", "-r", "100", "-t", "5s"], cols=132, cwd=d)
            p.wait_for(rb"Aggregated", 8)
            before = len(p.out)
            t_resize = time.monotonic()
            # The kernel sends SIGWINCH to the terminal's foreground group.
            fcntl.ioctl(p.master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
            redrawn = p.wait_for(rb"\x1b\[2J", 5)
            took = time.monotonic() - t_resize
            rc = p.finish(20)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check(redrawn, "the screen was cleared and redrawn after the resize")
    # Frames come every 2 s; the redraw on SIGWINCH does not wait for the next one (still
    # well before it under sanitizers, which are slower: harness.py).
    check(took < harness.speed_bound(1.2, 1.8), f"redrawn {took:.2f}s after the resize")
    after = ANSI.sub(b"", p.out[p.out.rindex(b"\x1b[2J"):]).decode(errors="replace")
    wide = [l for l in re.split(r"\r?\n|\r", after) if columns(l) > 60]
    check(not wide, f"lines wider than 60 columns after the resize: {wide[:2]!r}")
    check(b"Aggregated" in p.out[before:], "frames after the resize")
    check_eq(rc, 1, "exit code (503s fail)")


# One busy row and 60 that each see a single request: more rows than a 24-line terminal.
MANY_ROWS = r"""
User{ tasks = { function(u)
  if not u.done then
    for i = 1, 60 do u:get("/x", {name = string.format("/cold/%02d", i)}) end
    u.done = true
  end
  u:get("/x", {name = "/hot"}) u:sleep(0.02)
end } }
"""


def test_live_view_fits_the_terminal_height():
    d = scenario_dir(MANY_ROWS)
    try:
        with Target() as t:
            p = Pty(["-H", t.url, "-u", "1", "-r", "100", "-t", "5s"], cols=132, rows=24, cwd=d)
            rc = p.finish(20)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check_eq(rc, 0, f"exit code ({p.text()[-500:]!r})")
    # Each redraw moves the cursor up by the last frame's height and clears below.
    pieces = re.split(rb"\x1b\[\d+A\x1b\[J|\x1b\[H\x1b\[2J", p.out)
    frames = [ANSI.sub(b"", f).decode(errors="replace") for f in pieces[:-1]]
    check(len(frames) >= 1, f"live frames were drawn: {p.text()[-800:]!r}")
    for f in frames:
        lines = re.split(r"\r?\n", f.rstrip("\r\n"))
        check(len(lines) <= 23, f"a frame of {len(lines)} lines on a 24-line terminal: {f!r}")
        check("/hot" in f, f"the busiest row is in every frame: {f!r}")
        check(re.search(r"\.\.\. \d+ more rows", f), f"the frame says rows are left out: {f!r}")
    # The summary after the last frame lists every row.
    summary = ANSI.sub(b"", pieces[-1]).decode(errors="replace")
    summary = summary[summary.rindex("Type"):] if "Type" in summary else summary
    cold = set(re.findall(r"/cold/\d\d", summary))
    check_eq(len(cold), 60, f"rows in the summary ({summary[-600:]!r})")


if __name__ == "__main__":
    harness.main()
