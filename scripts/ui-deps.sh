#!/usr/bin/env bash
# Installs playwright-core (tests/ui/package-lock.json, a pinned version: the
# driver only; the browser is Debian's chromium, from `make deps`) for the
# UI's browser tests, once. Run by `make test` and by tests/ui/ui_test.cpp.
exec "$(dirname "$0")/npm-deps.sh" tests/ui node_modules/playwright-core/package.json
