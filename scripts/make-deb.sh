#!/usr/bin/env bash
# `make deb`: builds dist/stormlight_<version>_<arch>.deb from a build folder: the binary,
# its man page and bash completion, the docs and examples (cmake --install into a staging
# root with prefix /usr), a copyright file, a changelog, md5sums, and runtime
# dependencies computed by dpkg-shlibdeps from the binary's own libraries.
# Usage: scripts/make-deb.sh [BUILD_DIR] [OUT_DIR]     (default: build, dist)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-build}" && pwd)
OUT=${2:-$ROOT/dist}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VERSION=$(sed -n 's/^#define SL_VERSION "\(.*\)"/\1/p' "$ROOT/src/sl.h")
ARCH=$(dpkg --print-architecture)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/pkg

DESTDIR=$PKG cmake --install "$BUILD" --prefix /usr >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$PKG/usr/bin/stormlight"
gzip -9n "$PKG/usr/share/man/man1/stormlight.1"
DOC=$PKG/usr/share/doc/stormlight
cat > "$DOC/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: stormlight
Source: the stormlight repository

Files: *
Copyright: 2026 the stormlight authors
License: stormlight-no-license-yet
 The repository names no license yet; until it does, all rights are reserved by the
 authors. This package is built for the project's own machines.

Files: web/node_modules/uplot/*
Copyright: see below (uPlot's own LICENSE)
License: MIT
 uPlot is compiled into the binary (the web UI's charts). Its license, as it ships it:
COPY
# uPlot's license text as its npm package ships it, in the format's indented form.
sed -e 's/^$/./' -e 's/^/ /' "$ROOT/web/node_modules/uplot/LICENSE" >> "$DOC/copyright"
{
  echo "stormlight ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Release $VERSION; see /usr/share/doc/stormlight/CHANGELOG.md."
  echo
  echo " -- stormlight developers <stormlight@example.org>  $(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n > "$DOC/changelog.gz"  # a native package: changelog.gz
gzip -9n "$DOC/CHANGELOG.md"

# dpkg-shlibdeps needs a debian/control beside it to run; it only reads the package name.
mkdir -p "$STAGE/src/debian"
printf 'Source: stormlight\n\nPackage: stormlight\nArchitecture: any\n' > "$STAGE/src/debian/control"
DEPENDS=$(cd "$STAGE/src" && dpkg-shlibdeps -O -e"$PKG/usr/bin/stormlight" 2>/dev/null |
          sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || { echo "make-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$PKG/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat > "$PKG/DEBIAN/control" <<CTRL
Package: stormlight
Version: $VERSION
Architecture: $ARCH
Maintainer: stormlight developers <stormlight@example.org>
Installed-Size: $SIZE
Depends: $DEPENDS
Section: net
Priority: optional
Description: load tester with Locust's model at wrk's efficiency
 stormlight runs Lua scenario files (Task{} endpoints and User{} classes, as
 in Locust) against HTTP/1.1 hosts with threaded epoll workers. It reports exact
 HDR latency percentiles from each request's intended start, failures and
 throughput: live in the terminal or a web UI, and as JSON, CSV, HTML and
 HdrHistogram logs. It speaks Locust's flags and HTTP API, and serves
 Prometheus metrics.
CTRL
(cd "$PKG" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$PKG/DEBIAN/md5sums"
find "$PKG" -type d -exec chmod 755 {} +
DEB=$OUT/stormlight_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
