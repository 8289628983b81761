"""Scripted virtual users (User{} classes) against the project's own target: tokens and
cookies arrive, weights divide users exactly, waits bound the rate, names group rows,
script-marked failures and raised errors land in their tables, on_start and on_stop run
once per user, redirects count as one request."""

import harness
from harness import (Target, check, check_between, check_eq, check_summary, find_row,
                     run_stormlight)


def run(t, scenario, users, seconds="2s", extra=()):
    code, s, out, err = run_stormlight(
        ["-H", t.url, "-u", str(users), "-r", "1000", "-t", seconds, "-q", *extra], scenario)
    check(s is not None, f"no JSON summary (exit {code}): {err[-800:]}")
    check_summary(s)
    return code, s, err


def test_token_and_cookie_arrive():
    scenario = """\
User{
  name = "member",
  on_start = function(u)
    local r = u:post("/login", {json = {user = "user" .. u.id}})
    u.token = r:json().token
  end,
  tasks = {
    function(u)
      u:get("/private", {headers = {Authorization = "Bearer " .. u.token}})
    end,
  },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, 3)
        stats = t.stats()
        counts = t.counts()
    check_eq(code, 0, f"exit code ({err[-500:]})")
    check_eq(counts.get("POST /login"), 3, "one login per user")
    last = stats["last"]["GET /private"]["headers"]
    check(last.get("authorization", "").startswith("Bearer tok-"),
          f"token header arrived: {last.get('authorization')!r}")
    check(last.get("cookie", "").startswith("session=s"),
          f"session cookie arrived: {last.get('cookie')!r}")
    # The token and the cookie come from the same login, so their numbers match.
    check_eq(last["cookie"][len("session=s"):], last["authorization"][len("Bearer tok-"):],
             "cookie and token of the same user")
    login_body = stats["last"]["POST /login"]
    check(login_body["body"].startswith('{"user":"user'), f"JSON body: {login_body['body']!r}")
    check_eq(login_body["headers"].get("content-type"), "application/json", "JSON content type")
    private = find_row(s, "GET", "/private")
    check(private["num_requests"] > 10, f"some load: {private['num_requests']}")


def test_weights_divide_users_exactly():
    scenario = """\
User{ name = "a", weight = 3, on_start = function(u) u:post("/start-a") end,
      tasks = { function(u) u:sleep(0.2) end } }
User{ name = "b", weight = 1, on_start = function(u) u:post("/start-b") end,
      tasks = { function(u) u:sleep(0.2) end } }
User{ name = "c", fixed_count = 2, on_start = function(u) u:post("/start-c") end,
      tasks = { function(u) u:sleep(0.2) end } }
"""
    with Target() as t:
        code, s, err = run(t, scenario, 42, "1s")
        counts = t.counts()
    check_eq(code, 0, f"exit code ({err[-500:]})")
    check_eq(counts.get("POST /start-c"), 2, "fixed_count users")
    check_eq(counts.get("POST /start-a"), 30, "weight 3 of 40")
    check_eq(counts.get("POST /start-b"), 10, "weight 1 of 40")


def test_waits_bound_the_rate():
    scenario = """\
User{ name = "slow", wait = constant(0.5), tasks = { Task{"GET", "/constant"} } }
"""
    with Target() as t:
        code, s, err = run(t, scenario, 4, "2s")
        n = t.counts().get("GET /constant", 0)
    check_eq(code, 0, "exit code")
    # Each user: a request at 0, then one every ~0.5 s: at most 5 in 2 s, at least 3.
    check_between(n, 4 * 3, 4 * 5, "requests with constant(0.5)")
    scenario = """\
User{ name = "paced", wait = pacing(0.25),
      tasks = { function(u) u:get("/paced") end } }
"""
    with Target() as t:
        code, s, err = run(t, scenario, 2, "2s")
        n = t.counts().get("GET /paced", 0)
    check_eq(code, 0, "exit code")
    # pacing: iterations start every 0.25 s whatever they take: 8 per user in 2 s.
    check_between(n, 2 * 7, 2 * 9, "requests with pacing(0.25)")


def test_names_group_rows_and_failures_are_marked():
    scenario = """\
User{
  tasks = {
    function(u)
      local id = math.random(1, 1000)
      local r = u:get("/item/" .. id, {name = "/item/[id]"})
      if r.status == 200 and r:json().ok and id % 2 == 0 then r:failure("out of stock") end
    end,
  },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, 2, "1s")
        counts = t.counts()
    check_eq(code, 1, "exit code: failures were marked")
    check_eq(len(s["stats"]), 1, f"one row: {[r['name'] for r in s['stats']]}")
    row = find_row(s, "GET", "/item/[id]")
    served = sum(v for k, v in counts.items() if k.startswith("GET /item/"))
    check(row["num_requests"] <= served <= row["num_requests"] + s["in_flight_at_stop"],
          f"tool {row['num_requests']} vs target {served}")
    check(0 < row["num_failures"] < row["num_requests"], f"some failures: {row}")
    check_eq(s["errors"], [{"method": "GET", "name": "/item/[id]", "error": "out of stock",
                            "occurrences": row["num_failures"]}], "error table")


def test_raised_errors_are_exceptions():
    scenario = """\
local n = 0
User{
  tasks = {
    function(u)
      u:get("/before")
      n = n + 1
      if n % 2 == 0 then error("boom") end
    end,
  },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, 1, "1s", ["--threads", "1"])
        before = t.counts().get("GET /before", 0)
    check_eq(code, 1, "exit code: script errors fail the run, as in Locust")
    exc = s.get("exceptions")
    check(isinstance(exc, list) and len(exc) == 1, f"one exception row: {exc}")
    check_eq(exc[0]["message"], "boom", "message")
    check_eq(exc[0]["location"], "stormlight_file.lua:7", "location")
    # Every second iteration raised, and the user went on after each.
    check(before >= 10, f"the user kept going: {before} iterations")
    check_between(exc[0]["occurrences"], before // 2 - 1, before // 2 + 1, "occurrences")


def test_on_start_and_on_stop_once_per_user():
    scenario = """\
User{
  on_start = function(u) u:post("/start") end,
  on_stop = function(u) u:post("/stop") end,
  tasks = { function(u) u:get("/work") end },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, 5, "1s")
        counts = t.counts()
    check_eq(code, 0, f"exit code ({err[-500:]})")
    check_eq(counts.get("POST /start"), 5, "on_start once per user")
    check_eq(counts.get("POST /stop"), 5, "on_stop once per user")
    check_eq(find_row(s, "POST", "/stop")["num_requests"], 5, "on_stop requests are counted")


def test_redirect_is_one_request():
    scenario = """\
User{ tasks = { function(u)
  local r = u:get("/redirect")
  if r.status ~= 200 then r:failure("not followed: " .. r.status) end
end } }
"""
    with Target() as t:
        code, s, err = run(t, scenario, 1, "1s", ["--threads", "1"])
        counts = t.counts()
    check_eq(code, 0, f"exit code ({err[-300:]})")
    row = find_row(s, "GET", "/redirect")
    check_eq(len(s["stats"]), 1, "only the original name has a row")
    check(row["num_requests"] > 5, "some requests")
    check(counts.get("GET /", 0) >= row["num_requests"], "the target saw the redirected requests")


def test_one_renderer_for_tasks_requests_and_cookies():
    """A Task{} entry run with a cookie jar gets the jar spliced into its rendered bytes; a
    u:request takes any RFC 9110 token as its method, as Task{} does; a header name that
    is not a token is refused before anything is sent."""
    scenario = """\
User{
  on_start = function(u) u:post("/login", {json = {user = "a"}}) end,
  sequential = true,
  tasks = {
    Task{"GET", "/static", headers = {["X-T"] = "t"}},
    function(u)
      u:request("x.props", "/dav", {headers = {["X-N"] = 5}})
      u:get("/bad", {headers = {["a b"] = "x"}})
    end,
  },
}
"""
    with Target() as t:
        code, s, err = run(t, scenario, 1, "1s", ["--threads", "1"])
        stats = t.stats()
        counts = t.counts()
    check_eq(code, 1, f"exit code: the refused header is an exception ({err[-300:]})")
    static = stats["last"]["GET /static"]["headers"]
    check_eq(static.get("x-t"), "t", "the task's own header")
    check(static.get("cookie", "").startswith("session=s"), f"the jar's cookie: {static!r}")
    check(counts.get("X.PROPS /dav", 0) > 0, f"a token method is sent: {counts}")
    check_eq(stats["last"]["X.PROPS /dav"]["headers"].get("x-n"), "5", "a number header")
    check_eq(counts.get("GET /bad", 0), 0, "nothing of the refused request was sent")
    exc = s.get("exceptions") or []
    check(len(exc) == 1 and "invalid header name 'a b'" in exc[0]["message"],
          f"one exception row naming the header: {exc}")


def test_endpoints_files_still_run_without_lua():
    scenario = 'endpoints = { Task{"GET", "/plain"} }\n'
    with Target() as t:
        code, s, err = run(t, scenario, 2, "1s")
    check_eq(code, 0, "exit code")
    check_eq(s.get("exceptions"), [], "no exceptions")
    check(find_row(s, "GET", "/plain")["num_requests"] > 100, "load")


if __name__ == "__main__":
    harness.main()
