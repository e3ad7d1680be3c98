#!/usr/bin/env bash
# Runs every Meson test of a build dir and ends with one summary line
# "tests: N passed, N failed" counting doctest cases.
set -uo pipefail
build=${1:?build dir}
"$(dirname "$0")/test-services.sh" "$build" || exit 1
# Every test's temporary folders (tests/common/test_util.h make_temp_dir)
# go under one folder for this run, removed at the end: a run makes
# thousands, gigabytes in all.
# Open to every user as /tmp is: tests run builds as other users.
TMPDIR=$(mktemp -d /tmp/bt-tests-XXXXXX) && chmod 1777 "$TMPDIR" || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
meson test -C "$build" --print-errorlogs --num-processes 2
rc=$?
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, re, sys
passed = failed = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    m = re.search(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed", t.get("stdout", ""))
    if m:
        passed += int(m.group(2)); failed += int(m.group(3))
        if t["result"] != "OK" and int(m.group(3)) == 0: failed += 1
    elif t["result"] in ("OK", "EXPECTEDFAIL"): passed += 1
    elif t["result"] != "SKIP": failed += 1
print(f"tests: {passed} passed, {failed} failed")
PY
exit $rc
