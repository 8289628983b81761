"""What a new user trips on, in scripts: non-ASCII paths go out percent-encoded, an
unknown u:get option is a script error naming it, an endless shape() stops the run, and
a large response body kept for a script costs what the docs say."""

import os
import subprocess

import harness
from harness import Target, check, check_eq, check_summary, find_row, run_stormlight


def run(t, scenario, users=1, seconds="1s", extra=(), timeout=60):
    code, s, out, err = run_stormlight(
        ["-H", t.url, "-u", str(users), "-r", "1000", "-t", seconds, "-q", *extra], scenario,
        timeout=timeout)
    check(s is not None, f"no JSON summary (exit {code}): {err[-800:]}")
    check_summary(s)
    return code, s, err


def test_non_ascii_paths_are_percent_encoded():
    scenario = """\
User{
  tasks = {
    Task{"GET", "/café?q=ü"},
    function(u) u:get("/naïve/%41", {query = {k = "é"}}) end,
  },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, extra=["--iterations", "20", "--seed", "1"])
        counts = t.counts()
    check_eq(code, 0, f"exit code ({err[-500:]})")
    keys = sorted(counts)
    # The target's keys are the request target as received, query included.
    check(all(k.isascii() for k in keys), f"raw bytes reached the server: {keys!r}")
    check(any(k.startswith("GET /caf%C3%A9") for k in keys), f"Task{{}} path: {keys!r}")
    check(any(k.startswith("GET /na%C3%AFve/%41") for k in keys), f"u:get path: {keys!r}")
    # The rows keep the paths as written.
    find_row(s, "GET", "/café?q=ü")
    find_row(s, "GET", "/naïve/%41")


def test_unknown_request_option_is_a_script_error():
    scenario = """\
User{
  tasks = {
    function(u) u:post("/x", {jsn = {a = 1}}) end,
  },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, extra=["--iterations", "5"])
        sent = t.count("POST /x")
    check_eq(sent, 0, "requests sent without the misspelt option")
    msgs = [e["message"] for e in s.get("exceptions", [])]
    check(any("unknown key 'jsn'" in m and "json" in m for m in msgs),
          f"exception names the key and the valid ones: {msgs!r}")


def test_make_demo_runs_the_shop_example():
    # scripts/demo.sh is what `make demo` runs; a short duration keeps the test short. The
    # shop needs the project's target (tokens at /login): exit 0 means it ran clean there.
    env = dict(os.environ, DEMO_DURATION="2s")
    p = subprocess.run([os.path.join(harness.REPO, "scripts", "demo.sh"), harness.SL_BIN],
                       cwd=harness.REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
    out = p.stdout.decode(errors="replace")
    check_eq(p.returncode, 0, f"demo exit ({p.stderr.decode(errors='replace')[-800:]})")
    check("-f examples/shop.lua" in out, f"demo runs the shop: {out[:300]!r}")
    check("/products/[id]" in out, f"the shop's rows in the summary: {out[-1500:]!r}")

def test_endless_shape_stops_the_run():
    scenario = """\
User{ tasks = { function(u) u:get("/x") u:sleep(0.1) end } }
shape = function(t)
  if t < 1 then return 2, 10 end
  while true do end
end
"""
    with Target() as t:
        code, s, out, err = run_stormlight(
            ["-H", t.url, "-u", "2", "-t", "30s", "-q"], scenario, timeout=20)
    check(s is not None, f"the summary is written (exit {code}): {err[-500:]}")
    check("shape: " in err and "stormlight_file.lua:4: took too long" in err,
          f"a message names the loop: {err[-500:]!r}")
    check(run_stormlight.last_wall_s < 15, f"stopped soon: {run_stormlight.last_wall_s:.1f}s")


if __name__ == "__main__":
    harness.main()
