#!/usr/bin/env bash
# make demo: starts the project's own target on a free loopback port, runs the example
# scenario against it for 15 s with the live view, then stops the target.
set -euo pipefail
bin=${1:-build/stormlight}
target=$(dirname "$bin")/sl_target
[ -x "$target" ] || { echo "demo: $target not built" >&2; exit 1; }

out=$(mktemp)
"$target" --port 0 >"$out" &
target_pid=$!
trap 'kill "$target_pid" 2>/dev/null; wait "$target_pid" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q '^PORT ' "$out" && break
  sleep 0.05
done
port=$(awk '/^PORT /{print $2}' "$out")
[ -n "$port" ] || { echo "demo: the target did not start" >&2; exit 1; }

echo "demo: target on http://127.0.0.1:$port (pid $target_pid)"
echo "demo: $bin -f examples/stormlight_file.lua -H http://127.0.0.1:$port -u 10 -r 2 -t 15s"
set +e
"$bin" -f examples/stormlight_file.lua -H "http://127.0.0.1:$port" -u 10 -r 2 -t 15s
code=$?
set -e
echo "demo: stormlight exited with $code"
exit $code
