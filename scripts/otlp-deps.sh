#!/usr/bin/env bash
# Installs the OTLP test receiver's npm packages (tests/otlp/package-lock.json:
# OpenTelemetry JS's generated OTLP protobuf code) once; a no-op when they
# are there. Run by `make test` and by tests/collector/otlp_test.cpp.
set -euo pipefail
cd "$(dirname "$0")/../tests/otlp"
[ -f node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js ] && exit 0
# NodeSource's nodejs carries npm (and conflicts with Debian's npm package);
# Debian's nodejs does not: then npm is installed here.
if ! command -v npm >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "otlp-deps: npm missing (apt-get install npm as root)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
