"""A scripted request that cannot be built whole is failed, not sent truncated. The tool
runs with an address-space limit (set on the running process with prlimit once the user
is waiting) that leaves room for the script's 40 MB string but not for the ~128 MB the
request buffer needs to percent-encode it into a query: the request must be counted as a
failure and the server must see nothing of it. Before, the piece that did not fit was
dropped and the rest of the request went out."""

import os
import resource
import shutil
import tempfile
import time

import harness
from harness import Target, check, check_eq, find_row, run_stormlight

SCENARIO = """\
local function vm_kib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmSize:%s+(%d+)")
    if kib then return tonumber(kib) end
  end
end

User{
  tasks = {function(u)
    local f = io.open("ready.tmp", "w")
    f:write(vm_kib())
    f:close()
    os.rename("ready.tmp", "ready")
    while not io.open("go") do u:sleep(0.01) end
    -- 40 MB of '%': 120 MB once each byte is percent-encoded.
    local r = u:get("/q", {query = {v = string.rep("%", 40 * 1024 * 1024)}, name = "big"})
    u.error = r.error
  end},
}
"""


def sanitized(path):
    with open(path, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def test_a_request_too_big_for_memory_fails_and_is_not_sent():
    if sanitized(harness.SL_BIN):
        print("(skipped: a sanitizer's shadow memory does not fit an address-space limit)")
        return
    d = tempfile.mkdtemp(prefix="sl-unsent-")
    try:
        harness.write_scenario(d, SCENARIO)

        def limit_when_ready(proc, t0):
            ready = os.path.join(d, "ready")
            deadline = time.monotonic() + 10
            while not os.path.exists(ready):
                check(time.monotonic() < deadline and proc.poll() is None, "the user never got ready")
                time.sleep(0.01)
            with open(ready) as f:
                vm = int(f.read()) * 1024
            room = vm + 120 * 1024 * 1024
            resource.prlimit(proc.pid, resource.RLIMIT_AS, (room, room))
            open(os.path.join(d, "go"), "w").close()

        with Target() as t:
            code, s, out, err = run_stormlight(
                ["-H", t.url, "-u", "1", "-r", "100", "-t", "20s", "--iterations", "1", "-q"],
                cwd=d, during=limit_when_ready, timeout=40)
            counts = t.counts()
        check(s is not None, f"a summary (exit {code}, stderr {err[-500:]})")
        row = find_row(s, "GET", "big")
        check_eq(row["num_requests"], 1, "requests")
        check_eq(row["num_failures"], 1, "failures")
        check_eq([e["error"] for e in s["errors"]],
                 ["request not sent: out of memory while building it"], "error rows")
        check_eq(counts.get("GET /q", 0), 0, "the server saw no request")
        check_eq(code, 1, "exit code")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
