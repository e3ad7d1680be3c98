#!/usr/bin/env bash
# Installs the OTLP test receiver's npm packages (tests/otlp/package-lock.json:
# OpenTelemetry JS's generated OTLP protobuf code) once; a no-op when they
# are there. Run by `make test` and by tests/collector/otlp_test.cpp.
exec "$(dirname "$0")/npm-deps.sh" tests/otlp node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js
