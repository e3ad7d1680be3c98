#!/usr/bin/env bash
# bench/ab.sh OLD_BUILD NEW_BUILD: two builds of buildtrail-agent on the
# shared workloads (../shared/bench), interleaved in one run so both meet the
# same machine: each round runs the workload alone, under OLD and under NEW,
# in one of the six orders in turn (N=6 runs each once: no variant always
# follows another, whose leftovers -- page cache, a daemon's last fsync --
# could slow it). Prints the medians and old/none, new/none and
# new/old ratios. For a change that must not move the numbers (a refactor):
# compare it with its parent. Needs root; MODE=wrap (`run`) or daemon.
#   N=6 WORKLOADS="compile exec_storm file_storm net_storm" MODE=wrap bench/ab.sh OLD NEW
# (write_storm, from bench/overhead/workloads/, may be named too).
set -euo pipefail
old=$(cd "${1:?old build dir}" && pwd)
new=$(cd "${2:?new build dir}" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${BENCH_SHARED:-$repo/../shared/bench}
[ -x "$shared/peers/TEMPLATE.sh" ] || { echo "bench/ab: no shared bench at $shared (set BENCH_SHARED)" >&2; exit 1; }
mode=${MODE:-wrap}
rounds=${N:-6}
workloads=${WORKLOADS:-compile exec_storm file_storm net_storm}
out=$(mktemp -d /tmp/bt-ab.XXXXXX)
trap 'rm -rf "$out"' EXIT
"$shared/setup.sh" >"$out/setup.log" 2>&1 || { tail -n 20 "$out/setup.log"; exit 1; }

# One run of `workload` under `variant` (none, old, new); prints its wall time.
run_one() {
  local variant=$1 workload=$2 line
  # This repo's own workloads (bench/overhead/workloads/) go by path.
  [ -f "$repo/bench/overhead/workloads/$workload.sh" ] && workload=$repo/bench/overhead/workloads/$workload.sh
  if [ "$variant" = none ]; then
    line=$("$shared/peers/none.sh" "$workload" | grep '^RESULT')
  else
    local agent=$old/agent/buildtrail-agent
    [ "$variant" = new ] && agent=$new/agent/buildtrail-agent
    if [ "$mode" = wrap ]; then
      line=$(SENSOR_NAME=$variant SENSOR_CMD="$agent run --state-dir \$BENCH_RUNDIR/state --" \
               "$shared/peers/TEMPLATE.sh" "$workload" | grep '^RESULT')
    else
      line=$(SENSOR_NAME=$variant SENSOR_STOP_SIGNAL=TERM \
               SENSOR_START="$agent daemon --state-dir \$BENCH_RUNDIR/state --runner bench:bash:peers/TEMPLATE.sh" \
               SENSOR_READY="grep -q 'tracking runner pid' \$BENCH_RUNDIR/sensor.err" \
               "$shared/peers/TEMPLATE.sh" "$workload" | grep '^RESULT')
    fi
  fi
  sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$line"
}

printf '%s\n' "bench/ab: MODE=$mode N=$rounds, old=$old, new=$new"
printf '| workload | none s | old s | new s | old/none | new/none | new/old |\n| --- | --- | --- | --- | --- | --- | --- |\n'
for workload in $workloads; do
  : >"$out/$workload.tsv"
  orders=("none old new" "new old none" "old none new" "new none old" "old new none" "none new old")
  for ((i = 0; i < rounds; i++)); do
    for variant in ${orders[$((i % 6))]}; do
      printf '%s\t%s\n' "$variant" "$(run_one "$variant" "$workload")" >>"$out/$workload.tsv"
    done
  done
  python3 - "$workload" "$out/$workload.tsv" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[2]):
    variant, wall = line.split()
    runs.setdefault(variant, []).append(float(wall))
m = {v: statistics.median(w) for v, w in runs.items()}
print(f"| {sys.argv[1]} | {m['none']:.2f} | {m['old']:.2f} | {m['new']:.2f} | {m['old']/m['none']:.2f}x | "
      f"{m['new']/m['none']:.2f}x | {m['new']/m['old']:.3f} |")
PY
done
