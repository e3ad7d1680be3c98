#!/usr/bin/env bash
# Installs the npm packages of a test folder's package-lock.json (`npm ci`)
# once; a no-op when FILE (a file the packages bring, relative to the
# folder) is there. Usage: npm-deps.sh FOLDER FILE. Used by otlp-deps.sh
# and ui-deps.sh, which `make test` and the tests themselves run.
set -euo pipefail
folder=${1:?folder} marker=${2:?file}
cd "$(dirname "$0")/../$folder"
[ -f "$marker" ] && exit 0
# NodeSource's nodejs carries npm (and conflicts with Debian's npm package);
# Debian's nodejs does not: then npm is installed here.
if ! command -v npm >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "npm-deps: npm missing (apt-get install npm as root)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
