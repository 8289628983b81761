#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into tests/fuzz/corpus/<target>/ (run from anywhere).

The seeds are realistic inputs: the responses sl_target and nginx send (valid, unusual
and broken), scenario files like the ones in examples/ and the tests, URLs and durations
from the unit tests. Re-running it rewrites the same files.
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def crlf(s):
    return s.replace("\n", "\r\n").encode()


def chunked(parts, trailer=""):
    out = "".join(f"{len(p):x}\r\n{p}\r\n" for p in parts)
    return (out + "0\r\n" + trailer + "\r\n").encode()


RESPONSES = {
    "ok": crlf("HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 11\n\n")
    + b'{"ok":true}',
    "nginx": crlf("HTTP/1.1 200 OK\nServer: nginx/1.22.1\nDate: Thu, 26 Nov 2026 18:00:00 GMT\n"
                  "Content-Type: application/json\nContent-Length: 17\nConnection: keep-alive\n\n")
    + b'{"hello":"world"}',
    "503": crlf("HTTP/1.1 503 Service Unavailable\nContent-Type: text/html\n"
                "Content-Length: 0\n\n"),
    "chunked": crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n")
    + chunked([f"chunk {i}\n" for i in range(20)]),
    "chunked-ext-trailer": crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n")
    + b"5;name=value\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n",
    "http10": crlf("HTTP/1.0 200 OK\nContent-Type: text/plain\n\n") + b"body until close\n",
    "close": crlf("HTTP/1.1 200 OK\nConnection: close\nContent-Length: 2\n\n") + b"ok",
    "continue": crlf("HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 2\n\n") + b"ok",
    "early-hints": crlf("HTTP/1.1 103 Early Hints\nLink: </a.css>; rel=preload\n\n"
                        "HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
    "204": crlf("HTTP/1.1 204 No Content\n\n"),
    "304": crlf("HTTP/1.1 304 Not Modified\nContent-Length: 5\nETag: \"x\"\n\n"),
    "101": crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\n"),
    "redirect": crlf("HTTP/1.1 302 Found\nLocation: /\nContent-Length: 0\n\n"),
    "big": crlf("HTTP/1.1 200 OK\nContent-Length: 4096\n\n") + b"x" * 4096,
    "two-keepalive": crlf("HTTP/1.1 200 OK\nContent-Length: 2\n\n") + b"ok"
    + crlf("HTTP/1.1 200 OK\nContent-Length: 3\n\n") + b"yes",
    "head": crlf("HTTP/1.1 200 OK\nContent-Length: 1000\n\n"),
    "reset-mid": crlf("HTTP/1.1 200 OK\nContent-Length: 1000\n\n") + b"y" * 100,
    "short": crlf("HTTP/1.1 200 OK\nContent-Length: 100\n\n") + b"0123456789",
    "badstatus": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "badstatus2": b"HTTX/9 abc\r\n\r\n",
    "garbage": bytes((i * 167 + 13) & 0xFF for i in range(256)),
    "badchunk": crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n") + b"zz\r\nhello\r\n0\r\n\r\n",
    "truncchunk": crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n") + b"10\r\nonly part",
    "bigheader": crlf("HTTP/1.1 200 OK\n") + b"X-Big: " + b"a" * 70000 + b"\r\nContent-Length: 0\r\n\r\n",
    "drip": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "both-lengths": crlf("HTTP/1.1 200 OK\nContent-Length: 5\nTransfer-Encoding: chunked\n\n")
    + chunked(["hello"]),
    "two-lengths": crlf("HTTP/1.1 200 OK\nContent-Length: 5\nContent-Length: 6\n\n") + b"hello!",
    "obs-fold": crlf("HTTP/1.1 200 OK\nX-A: one\n  two\nContent-Length: 0\n\n"),
    "lf-only": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "huge-length": crlf("HTTP/1.1 200 OK\nContent-Length: 18446744073709551615\n\n") + b"x",
    "huge-chunk": crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n") + b"ffffffffffffffffff\r\n",
    "keepalive-10": crlf("HTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 1\n\n") + b"k",
}

# Byte 0: bit 0 HEAD, bits 1-3 number of split sizes, bit 4 EOF at the end.
for name, body in RESPONSES.items():
    write("fuzz_response", bytes([0x10]) + body)                  # one read, then EOF
    write("fuzz_response", bytes([0x00]) + body)                  # one read, no EOF
    write("fuzz_response", bytes([0x10 | (1 << 1), 0]) + body)    # one byte per read
    write("fuzz_response", bytes([0x10 | (3 << 1), 6, 0, 40]) + body)
write("fuzz_response", bytes([0x11]) + RESPONSES["head"])
write("fuzz_response", bytes([0x11 | (2 << 1), 3, 9]) + RESPONSES["nginx"])

SCENARIOS = [
    open(os.path.join(HERE, "..", "..", "examples", "stormlight_file.lua")).read(),
    'endpoints = { Task{"GET", "/hello"} }\n',
    'host = "http://127.0.0.1:8000/api"\nendpoints = { Task{"get", "/x?y=1", name = "x"} }\n',
    'endpoints = {\n  Task{"GET", "/", weight = 95},\n  Task{"GET", "/fault/reset", weight = 5},\n}\n',
    'endpoints = {\n  Task{"POST", "/p", data = "raw body", headers = {["Content-Type"] = "text/plain"}},\n'
    '  Task{"PUT", "/j", data = {a = {1, 2, 3}, b = {c = "d\\n\\"e"}, f = true, g = 1.5}},\n'
    '  Task{"HEAD", "/h", headers = {Host = "virtual.example", ["User-Agent"] = "me", Accept = "text/html"}},\n'
    '  Task{"DELETE", "/d", name = "delete one", weight = 2},\n}\n',
    '#!/usr/bin/env stormlight\nlocal t = {}\nfor i = 1, 50 do\n'
    '  t[#t + 1] = Task{"GET", "/item/" .. i, name = "/item/{id}", weight = i % 3 + 1}\nend\nendpoints = t\n',
    '\xef\xbb\xbfendpoints = { Task{"OPTIONS", "*"} }\n',
    'endpoints = {\n  Task{"GET", "/hello"} Task{"GET", "/other"},\n}\n',
    'endpoints = {\n  Task{"GET", "/hello"},\n  Task{"GET", "/x", headers = 5},\n}\n',
    'endpoints = {\n  Task{"GET", "/hello", weight = "heavy"},\n}\n',
    'error("boom")\n',
    'endpoints = {}\n',
    'endpoints = { {"GET", "/not-a-task"} }\n',
    'local x = 0\nwhile true do x = x + 1 end\n',
    'endpoints = { Task{"GET", "/", data = {[1] = "a", [3] = "c"}} }\n',
    'local d = {}\nd.self = d\nendpoints = { Task{"POST", "/", data = d} }\n',
    'endpoints = { Task{"GET", "/", headers = {["Bad Name"] = "v"}} }\n',
    'endpoints = { Task{"GET", "/", headers = {["X-A"] = "a\\r\\nInjected: 1"}} }\n',
    'endpoints = { Task{"GET", "/", data = {n = 0/0}} }\n',
    'endpoints = { Task{"GET", "/", data = {u = "\\u{1F600}", e = {}, z = -0.0, i = math.maxinteger}} }\n',
    'setmetatable(_G, {__newindex = function(t, k, v) rawset(t, k, v) end})\n'
    'endpoints = setmetatable({ Task{"GET", "/"} }, {__len = function() return 5 end})\n',
    'local co = coroutine.wrap(function() coroutine.yield(Task{"GET", "/co"}) end)\n'
    'endpoints = { co(), Task{"PATCH", "/p", data = string.rep("x", 1000)} }\n',
    'endpoints = { Task{"GET", "/", unknown = 1} }\n',
    'endpoints = { Task{"GET", "/", "extra"} }\n',
    'host = 5\nendpoints = { Task{"GET", "/"} }\n',
]
for s in SCENARIOS:
    write("fuzz_scenario", s)

URLS = [
    "http://localhost", "https://example.com", "http://127.0.0.1:8000", "https://example.com:8443/",
    "http://example.com:80", "https://example.com:443", "http://[::1]:8080", "http://[::1]",
    "https://[2001:db8::1]/x", "http://[::ffff:127.0.0.1]:81", "http://h/api", "http://h/api//",
    "http://h:9000/a/b/", "HTTP://Host.Example:1", "http://my_host-1.local:65535",
    "ftp://example.com", "localhost:8000", "http://", "http:///path", "http://:8080",
    "http://[]:80", "http://h:0", "http://h:99999", "http://h?x=1", "http://h/p#frag",
    "http://user:pw@h", "http://h h", "http://h\r\n/", "http://[::1", "http://[1.2.3.4]",
    "http://no-such-host.invalid", "https://" + "a" * 255, "http://h/" + "p" * 1030,
]
for u in URLS:
    write("fuzz_url", u)

DURATIONS = [
    "30", "250ms", "90s", "5m", "1h30m", "1h2m3s", "1.5s", "0.1s", "1.25ms", "0.001ms", "24000h",
    "24000h1s", "1h30x", "5x", "-1", "", "1m30", "30s1m", "1.", ".5s", "1..5s", "999999999999999999999",
    "1h1h", "0", "0s", "2m0.5s", "1.123456789123s",
]
for d in DURATIONS:
    write("fuzz_duration", d)
