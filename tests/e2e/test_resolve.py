"""Address resolution end to end: a host name that resolves to several addresses, the
first of them dead. The tool runs in a private mount namespace (unshare -m) whose
/etc/hosts lists "::1 localhost" before "127.0.0.1 localhost", as Debian's stock file
does, against the target listening on 127.0.0.1 only: every connect to ::1 is refused and
the tool must go on to 127.0.0.1 (no failures, counts reconcile); with nothing listening
the error names the address."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile

import harness
from harness import Target, check, check_eq, check_reconciles, find_row, run_stormlight

SCENARIO = 'endpoints = { Task{"GET", "/hello"} }\n'

WRAPPER = """#!/bin/sh
# Runs the real binary with {hosts} as /etc/hosts, in a mount namespace of its own.
exec unshare -m {userns} sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' {hosts} {bin} "$@"
"""


class HostsFile:
    """A wrapper around the stormlight binary that sees `hosts` as /etc/hosts."""

    def __init__(self, hosts):
        self.hosts = hosts

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="sl-hosts-")
        hosts = os.path.join(self.dir, "hosts")
        with open(hosts, "w") as f:
            f.write(self.hosts)
        # Without root, a user namespace grants the mount.
        userns = "" if os.geteuid() == 0 else "-r"
        self.wrapper = os.path.join(self.dir, "stormlight")
        with open(self.wrapper, "w") as f:
            f.write(WRAPPER.format(userns=userns, hosts=hosts, bin=harness.SL_BIN))
        os.chmod(self.wrapper, 0o755)
        probe = subprocess.run([self.wrapper, "--version"], capture_output=True)
        if probe.returncode != 0:
            raise harness.TestFailure(f"cannot run in a private mount namespace: "
                                      f"{probe.stderr.decode(errors='replace')}")
        self.saved, harness.SL_BIN = harness.SL_BIN, self.wrapper
        return self

    def __exit__(self, *exc):
        harness.SL_BIN = self.saved
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


V6_FIRST = "::1 localhost\n127.0.0.1 localhost\n"


@contextlib.contextmanager
def refusing(port, family=socket.AF_INET6, host="::1"):
    """Holds host:port bound but not listening, so connects there are refused whatever
    else runs on this machine (a server of another test on the same port number)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        yield
    finally:
        s.close()


def test_a_refused_first_address_falls_back_to_the_next():
    with Target() as t, refusing(t.port), HostsFile(V6_FIRST):
        code, s, out, err = run_stormlight(
            ["-H", f"http://localhost:{t.port}", "-u", "4", "-r", "100", "-t", "20s", "-q",
             "--threads", "2", "--iterations", "400", "--timeout", "5s"], SCENARIO)
        counts = t.counts()
    check_eq(code, 0, f"exit code (errors: {s and s['errors']}, stderr: {err[-300:]})")
    row = find_row(s, "GET", "/hello")
    check_eq(row["num_failures"], 0, "failures")
    check_eq(s["errors"], [], "errors")
    check_eq(row["num_requests"], 400, f"requests (in flight at stop: {s['in_flight_at_stop']})")
    check_reconciles(s, counts, [("GET", "/hello", "GET /hello")], "target")


def test_the_connect_error_names_the_address():
    port = harness.free_port()
    with refusing(port, socket.AF_INET, "127.0.0.1"), refusing(port), HostsFile(V6_FIRST):
        code, s, out, err = run_stormlight(
            ["-H", f"http://localhost:{port}", "-u", "1", "-r", "100", "-t", "1s", "-q"],
            SCENARIO)
    check_eq(code, 1, "exit code")
    row = find_row(s, "GET", "/hello")
    check(row["num_requests"] > 0, "failures are counted")
    check_eq(row["num_failures"], row["num_requests"], "every request fails")
    # Both addresses were tried for each request; the error names the last one.
    check_eq([e["error"] for e in s["errors"]], [f"connection refused (127.0.0.1:{port})"],
             "error rows")


if __name__ == "__main__":
    harness.main()
