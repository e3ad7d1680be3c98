#!/usr/bin/env bash
# Runs the benchmarks of a release build. Each prints its measurements as
# ratios against its target or a baseline measured in the same run.
set -euo pipefail
build=${1:?build dir}
export BUILDTRAIL_BUILD=$(cd "$build" && pwd)
"$build/bench/bench_batch"
"$build/bench/bench_ingest"
"$build/bench/bench_pipeline"
"$build/bench/bench_detect"
"$build/bench/bench_forward"
"$build/bench/bench_api"
"$build/bench/bench_trap"
# The shared workloads under the wrap sensor and strace (root; several minutes).
bench/overhead/run.sh "$build"
