#!/usr/bin/env bash
# `make demo`: a collector on a temporary data folder (embedded SQLite), one
# sample build under `buildtrail-agent run` in a fake Jenkins job, then that
# build's audit trail as the collector stored it and the alert its one
# suspicious step raised. Loopback only; everything is removed at the end.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
collector=$build/collector/buildtrail-collector
agent=$build/agent/buildtrail-agent
tmp=$(mktemp -d /tmp/buildtrail-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_for_file() {
  for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "demo: $2 did not start" >&2
  exit 1
}

echo "== collector: serve on 127.0.0.1, data in $tmp/data"
"$collector" serve --listen 127.0.0.1:0 --data "$tmp/data" --ready-file "$tmp/collector.addr" \
  2>"$tmp/collector.log" &
pids+=($!)
wait_for_file "$tmp/collector.addr" collector
addr=$(cat "$tmp/collector.addr")
token=$("$collector" agents token --data "$tmp/data" | tail -n 1)

echo "== a fake artifact registry on 127.0.0.1 (accepts PUT)"
python3 - "$tmp/registry.port" <<'PY' 2>"$tmp/registry.log" &
import http.server, sys
class Registry(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), Registry)
open(sys.argv[1], "w").write(str(srv.server_port))
srv.serve_forever()
PY
pids+=($!)
wait_for_file "$tmp/registry.port" registry
port=$(cat "$tmp/registry.port")

echo "== the sample build: compile, read a (fake) credential, upload with curl,"
echo "   and one suspicious step: read another process's environment (Codecov-style)"
mkdir -p "$tmp/home/.aws" "$tmp/workspace"
printf '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n' >"$tmp/home/.aws/credentials"
cat >"$tmp/workspace/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("hello from the demo build"); return 0; }
C
cat >"$tmp/workspace/build.sh" <<SH
set -e
cc -O2 -o hello hello.c
./hello
cat "\$HOME/.aws/credentials" >/dev/null
curl -sS -T hello -H "Expect:" -H "Authorization: Bearer demo-not-a-real-token" \
  "http://127.0.0.1:$port/artifacts/demo/hello"
sleep 5 & sleep 0.1; tr '\\0' '\\n' </proc/\$!/environ | grep -c = >/dev/null || true; kill \$!
SH
(
  cd "$tmp/workspace"
  env HOME="$tmp/home" JENKINS_URL=http://jenkins.example.invalid/ JOB_NAME=demo/app \
    BUILD_NUMBER=42 BUILD_TAG=jenkins-demo-app-42 \
    BUILD_URL=http://jenkins.example.invalid/job/demo/job/app/42/ NODE_NAME=demo-agent \
    GIT_URL=https://git.example.invalid/demo/app.git GIT_COMMIT=0123456789abcdef0123456789abcdef01234567 \
    "$agent" run --state-dir "$tmp/state" --collector "http://$addr" --enroll-token "$token" \
      --batch-max-age-ms 200 -- sh build.sh
)
echo "== the build's audit trail, as stored by the collector"
"$collector" query --data "$tmp/data" --ci-build jenkins-demo-app-42
echo "== its alerts (the collector's detector, docs/detection.md)"
for _ in $(seq 1 50); do
  alerts=$("$collector" alerts list --data "$tmp/data")
  [ "$alerts" != "no alerts" ] && break
  sleep 0.1
done
echo "$alerts"
id=$("$collector" alerts list --data "$tmp/data" --format jsonl | head -n 1 | sed 's/^{"id":\([0-9]*\).*/\1/')
if [ -n "$id" ]; then "$collector" alerts show --data "$tmp/data" "$id"; fi
