"""Keep-alive connections the server closed while they sat idle. nginx closes idle
connections after keepalive_timeout 300ms; the user spends 0.4 s between POSTs busy in its
own Lua code, so the worker's loop does not run while the server's FIN arrives. A POST
cannot be retried (it is not idempotent), so sending it into that connection would fail
it: before reusing a connection that sat idle, the tool checks it for a pending close and
opens a new one instead, counting it in stale_connections_discarded."""

import harness
from harness import check, check_eq, check_reconciles, find_row, run_stormlight

import test_tls

CONF = harness.NGINX_CONF.replace("keepalive_timeout 75s;", "keepalive_timeout 300ms;")
assert CONF != harness.NGINX_CONF

SCENARIO = """\
-- Busy, not sleeping: the worker's event loop cannot notice the close meanwhile.
local function busy(s)
  local t = os.clock()
  while os.clock() - t < s do end
end

User{
  tasks = {function(u)
    u:post("%s", {json = {n = 1}})
    busy(%s)
  end},
}
"""


def test_a_connection_closed_while_idle_is_not_reused():
    with harness.Nginx(conf=CONF) as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "-u", "1", "-r", "100", "-t", "10s", "--iterations", "3", "-q"],
            SCENARIO % ("/api/upload", "0.4"), timeout=30)
        counts = n.counts()
    row = find_row(s, "POST", "/api/upload")
    check_eq(s["errors"], [], "errors")
    check_eq(row["num_requests"], 3, "POSTs")
    check_eq(row["num_failures"], 0, "failed POSTs")
    check_eq(code, 0, f"exit code (stderr: {err[-300:]})")
    # The first POST opens the connection; the two after it find it closed by nginx.
    check_eq(s["stale_connections_discarded"], 2, "stale connections discarded")
    check_eq(s["retries"], 0, "nothing needed a retry")
    check_reconciles(s, counts, [("POST", "/api/upload", "POST /api/upload")], "nginx log")


def test_a_connection_idle_but_open_is_reused():
    """Idle for 50 ms, well inside the server's timeout: checked, and kept, on plain TCP
    and on TLS (where pending bytes may be TLS housekeeping, not a close)."""
    servers = [(harness.Nginx(), "/api/upload", []),
               (test_tls.TlsNginx(), "/hello", ["--insecure"])]
    for server, path, extra in servers:
        with server as n:
            code, s, out, err = run_stormlight(
                ["-H", n.url, "-u", "1", "-r", "100", "-t", "10s", "--iterations", "4", "-q",
                 *extra], SCENARIO % (path, "0.05"), timeout=30)
        check_eq(code, 0, f"{n.url}: exit code ({s and s['errors']})")
        check_eq(find_row(s, "POST", path)["num_requests"], 4, f"{n.url}: POSTs")
        check_eq(s["stale_connections_discarded"], 0, f"{n.url}: stale connections discarded")


def test_back_to_back_requests_are_not_checked():
    """Reused at once (no idle time): no connection is discarded."""
    with harness.Nginx() as n:
        code, s, out, err = run_stormlight(
            ["-H", n.url, "-u", "2", "-r", "100", "-t", "1s", "-q"],
            'endpoints = { Task{"GET", "/hello"} }\n')
    check_eq(code, 0, "exit code")
    check(find_row(s, "GET", "/hello")["num_requests"] > 100, "some load")
    check_eq(s["stale_connections_discarded"], 0, "stale connections discarded")


if __name__ == "__main__":
    harness.main()
