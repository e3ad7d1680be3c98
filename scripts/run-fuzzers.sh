#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for N seconds each, starting
# from the committed seed corpus. Crashes are kept in $build/fuzz-artifacts.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/fuzz-artifacts"
status=0
for target in "$build"/tests/fuzz/fuzz_*; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  [ -d "$src/tests/fuzz/corpus/$name" ] && cp -n "$src/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build/fuzz-artifacts/$name-" "$corpus" 2>"$build/fuzz-$name.log"; then
    echo "fuzz: $name FAILED; see $build/fuzz-$name.log and $build/fuzz-artifacts/" >&2
    tail -40 "$build/fuzz-$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units" "$build/fuzz-$name.log" | sed "s/^/fuzz: $name /" || true
  fi
done
exit $status
