#!/usr/bin/env bash
# bench/overhead: the four shared workloads (../shared/bench) without a
# sensor, under `buildtrail-agent run` and under `strace -f --seccomp-bpf`,
# in alternating A/B pairs (the harness's run.sh); prints median wall-time
# ratios against the targets of issue 5 and the agent's peak RSS.
# Needs root (the harness checks) and the shared bench next to the repo.
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${BENCH_SHARED:-$repo/../shared/bench}
[ -x "$shared/run.sh" ] || { echo "bench/overhead: no shared bench at $shared (set BENCH_SHARED)" >&2; exit 1; }
agent=$build/agent/buildtrail-agent
out=$(mktemp -d /tmp/bt-overhead.XXXXXX)
trap 'rm -rf "$out"' EXIT

export SENSOR_NAME=buildtrail
export SENSOR_CMD="$agent run --state-dir \$BENCH_RUNDIR/state --events-out \$BENCH_EVENTS --log-level debug --"
export SENSOR_COUNT="python3 $repo/bench/overhead/count.py \$BENCH_EVENTS"
N=${N:-3} TOOLS=${TOOLS:-strace} OUT=$out/overhead.md BENCH_LOGDIR=$out/logs \
  "$shared/run.sh" >"$out/run.log" 2>&1 || { tail -n 30 "$out/run.log"; exit 1; }
# The agent's own peak RSS on the largest workload (its debug log says it).
env BENCH_WORKDIR="$out/rss" BENCH_HOME="$out/rss-home" bash -c \
  "mkdir -p \$BENCH_WORKDIR && $shared/workloads/_fakehome.sh \$BENCH_HOME >/dev/null &&
   $agent run --state-dir $out/rss-state --log-level debug -- $shared/workloads/compile.sh" \
  >/dev/null 2>"$out/logs/rss.log" || true
grep '^|' "$out/overhead.md" | grep -v '^| workload' | grep -v '^|---'
python3 - "$out/overhead.md" "$out/logs" <<'PY'
import glob, re, sys
targets = {"compile": 1.10, "exec_storm": 1.30, "net_storm": 1.15, "file_storm": 2.0}
ratio = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) > 4 and cells[1] in ("buildtrail", "strace"):
        try: ratio[(cells[0], cells[1])] = float(cells[4])
        except ValueError: pass
ok = True
for w, target in targets.items():
    ours, strace = ratio.get((w, "buildtrail")), ratio.get((w, "strace"))
    if ours is None: continue
    half = 1 + (strace - 1) / 2 if strace else None
    met = ours <= target and (half is None or ours < half)
    ok &= met
    print(f"overhead {w}: {ours:.2f}x (target <= {target:.2f}x; strace {strace or 0:.2f}x, "
          f"half its overhead {half or 0:.2f}x) {'met' if met else 'MISSED'}")
rss = [int(m) for f in glob.glob(sys.argv[2] + "/**/*", recursive=True)
       for m in re.findall(r"peak RSS (\d+) KiB", open(f, errors="replace").read())]
if rss:
    peak = max(rss) / 1024
    ok &= peak <= 25
    print(f"agent peak RSS: {peak:.1f} MiB (target <= 25 MiB, {peak / 25:.2f}x)")
print("bench/overhead:", "targets met" if ok else "TARGETS MISSED")
PY
