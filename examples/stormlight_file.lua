-- The quick-start scenario: two endpoints, picked at random by every virtual user.
-- Run it with:  stormlight -f examples/stormlight_file.lua -H http://127.0.0.1:8000 -u 10 -r 2 -t 10s
endpoints = {
  Task{"GET", "/hello", headers = {["Content-Type"] = "application/json"}},
  Task{"POST", "/api/upload", data = {name = "test", price = 10},
       headers = {["Content-Type"] = "application/json"}},
}
