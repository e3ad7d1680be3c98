#!/usr/bin/env bash
# What the tests need beyond `make deps`, set up in the build folder:
# syslog-ng, unpacked from Debian's syslog-ng-core. That package conflicts
# with rsyslog (both provide system-log-daemon), and the tests run both as
# receivers, so syslog-ng runs from BUILD/deps/syslog-ng and is never
# installed. Idempotent: nothing happens (and no network) once unpacked.
set -euo pipefail
build=${1:?build dir}
dest="$build/deps/syslog-ng"
[ -x "$dest/usr/sbin/syslog-ng" ] && exit 0
if [ "$(id -u)" != 0 ] && ! command -v apt-get >/dev/null; then
  echo "test-services: cannot fetch syslog-ng-core (no apt-get)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Its libraries (not conflicting) come from make deps; the package itself
# is only downloaded.
(cd "$work" && apt-get download -q syslog-ng-core >/dev/null 2>&1) || {
  apt-get update -qq && (cd "$work" && apt-get download -q syslog-ng-core >/dev/null)
}
mkdir -p "$dest.tmp"
dpkg-deb -x "$work"/syslog-ng-core_*.deb "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "test-services: syslog-ng $(ls "$dest/usr/lib/syslog-ng" | grep -E '^[0-9]' | head -1) unpacked in $dest"
