#!/usr/bin/env bash
# Installs the Debian packages stormlight needs to build, test, demo or benchmark.
# Usage: scripts/install-deps.sh [build|test|demo|bench|fuzz]...  (default: build)
# Runs `apt-get update` at most once, and only when something is missing. When not root,
# prints the exact command to run instead.
set -euo pipefail

build_pkgs="build-essential cmake ninja-build pkg-config liblua5.4-dev node-llhttp libcjson-dev libssl-dev zlib1g-dev"
# Distributed mode: ZeroMQ and msgpack-c (build); Locust and its Python bindings for the
# interoperability tests (test).
build_pkgs="$build_pkgs libzmq3-dev libmsgpack-dev"
test_pkgs="libcriterion-dev python3 nginx openssl chromium default-jdk-headless libhdrhistogram-java"
test_pkgs="$test_pkgs python3-locust python3-zmq python3-msgpack"
demo_pkgs="nginx"
bench_pkgs="wrk nginx python3-locust time"
fuzz_pkgs="clang-14 libclang-rt-14-dev"

want=""
[ $# -eq 0 ] && set -- build
for what in "$@"; do
  case "$what" in
    build) want="$want $build_pkgs" ;;
    test) want="$want $build_pkgs $test_pkgs" ;;
    demo) want="$want $build_pkgs $demo_pkgs" ;;
    bench) want="$want $build_pkgs $bench_pkgs" ;;
    fuzz) want="$want $build_pkgs $fuzz_pkgs" ;;
    *) echo "install-deps: unknown set '$what' (build, test, demo, bench, fuzz)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  case " $missing " in *" $p "*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

[ -z "$missing" ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "stormlight needs these Debian packages:$missing" >&2
  echo "run as root:  $cmd" >&2
  exit 1
fi
echo "install-deps: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
