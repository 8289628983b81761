#!/usr/bin/env bash
# Installs the Debian packages stormlight needs to build, test, demo or benchmark.
# Usage: scripts/install-deps.sh [build|test|demo|bench|fuzz|deb]...  (default: build)
# Runs `apt-get update` at most once, and only when something is missing. When not root,
# prints the exact command to run instead.
set -euo pipefail

build_pkgs="build-essential cmake ninja-build pkg-config liblua5.4-dev node-llhttp libcjson-dev libssl-dev zlib1g-dev libmicrohttpd-dev libnghttp2-dev"
test_pkgs="dpkg-dev binutils man-db groff-base bash-completion nghttp2-server libcriterion-dev python3 nginx openssl chromium chromium-driver python3-selenium prometheus default-jdk-headless libhdrhistogram-java"
# Distributed mode: ZeroMQ and msgpack-c (build); Locust and its Python bindings for the
# interoperability tests (test).
build_pkgs="$build_pkgs libzmq3-dev libmsgpack-dev"
test_pkgs="$test_pkgs python3-locust python3-zmq python3-msgpack"
demo_pkgs="nginx"
bench_pkgs="nghttp2-client wrk nginx python3-locust time"
fuzz_pkgs="clang-14 libclang-rt-14-dev"
deb_pkgs="dpkg-dev binutils man-db groff-base bash-completion"

want=""
[ $# -eq 0 ] && set -- build
for what in "$@"; do
  case "$what" in
    build) want="$want $build_pkgs" ;;
    test) want="$want $build_pkgs $test_pkgs" ;;
    demo) want="$want $build_pkgs $demo_pkgs" ;;
    bench) want="$want $build_pkgs $bench_pkgs" ;;
    fuzz) want="$want $build_pkgs $fuzz_pkgs" ;;
    deb) want="$want $build_pkgs $deb_pkgs" ;;
    *) echo "install-deps: unknown set '$what' (build, test, demo, bench, fuzz, deb)" >&2; exit 2 ;;
  esac
done

# The web UI's front-end packages (uPlot) come from npm, pinned by web/package-lock.json;
# Debian's npm when the machine has none.
command -v npm >/dev/null 2>&1 || want="$want npm"

missing=""
for p in $want; do
  case " $missing " in *" $p "*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

web_assets() {
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  if [ ! -f "$root/web/node_modules/uplot/dist/uPlot.iife.min.js" ]; then
    echo "install-deps: npm ci in web/ (uPlot for the web UI)"
    (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

if [ -z "$missing" ]; then
  web_assets
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "stormlight needs these Debian packages:$missing" >&2
  echo "run as root:  $cmd" >&2
  exit 1
fi
echo "install-deps: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
web_assets
