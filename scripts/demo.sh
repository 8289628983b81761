#!/usr/bin/env bash
# make demo: starts the project's own target on a free loopback port, runs a scenario
# against it (examples/shop.lua, which needs that target, unless another is named) for
# DEMO_DURATION (15s) with the live view, then stops the target.
#
#   scripts/demo.sh [BIN [SCENARIO]]      e.g. scripts/demo.sh build/stormlight examples/stormlight_file.lua
set -euo pipefail
bin=${1:-build/stormlight}
scenario=${2:-examples/shop.lua}
duration=${DEMO_DURATION:-15s}
target=$(dirname "$bin")/sl_target
[ -x "$target" ] || { echo "demo: $target not built" >&2; exit 1; }
[ -r "$scenario" ] || { echo "demo: cannot read $scenario" >&2; exit 1; }

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

# --host overrides the file's host (shop.lua names 127.0.0.1:8000), so the demo needs no
# fixed port.
echo "demo: target on http://127.0.0.1:$port (pid $target_pid)"
echo "demo: $bin -f $scenario -H http://127.0.0.1:$port -u 20 -r 5 -t $duration"
set +e
"$bin" -f "$scenario" -H "http://127.0.0.1:$port" -u 20 -r 5 -t "$duration" "${@:3}"
code=$?
set -e
echo "demo: stormlight exited with $code"
exit $code
