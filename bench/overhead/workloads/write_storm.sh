#!/usr/bin/env bash
# write_storm: a build that writes many files, a few of them on the watch
# list (docs/file-watch.md), for file_write and exec provenance's cost.
# Run by the shared harness's peers as a workload file:
#   ../shared/bench/peers/TEMPLATE.sh bench/overhead/workloads/write_storm.sh
# (bench/overhead/run.sh and bench/ab.sh take it with WORKLOADS=write_storm).
#
# Size (defaults): WRITE_STORM_DIRS=100 x WRITE_STORM_FILES=100 = 10,000
# files created by bash redirections, then 10,000 overwritten (O_TRUNC), 2,000
# appended, 200 renamed (mv), 1,200 unlinked, 200 copied with cp and made
# executable; WRITE_STORM_WATCHED=20 rounds each write a workflow, a shell rc
# file in the fake HOME, a .pth file in a site-packages folder and a git hook
# (80 watched writes), and run one of the executables written (written_by).
#
# Env (optional): BENCH_WORKDIR, BENCH_HOME, WRITE_STORM_DIRS,
# WRITE_STORM_FILES, WRITE_STORM_WATCHED.
set -euo pipefail
export LC_ALL=C

DIRS=${WRITE_STORM_DIRS:-100}
FILES=${WRITE_STORM_FILES:-100}
WATCHED=${WRITE_STORM_WATCHED:-20}

own_work=
if [ -z "${BENCH_WORKDIR:-}" ]; then
  BENCH_WORKDIR=$(mktemp -d)
  own_work=$BENCH_WORKDIR
fi
trap '[ -z "$own_work" ] || rm -rf "$own_work"' EXIT
home=${BENCH_HOME:-$BENCH_WORKDIR/home}
tree=$BENCH_WORKDIR/write-storm
rm -rf "$tree"
mkdir -p "$tree/.github/workflows" "$tree/.git/hooks" "$tree/lib/site-packages" "$tree/bin" "$home"

for ((d = 0; d < DIRS; d++)); do
  mkdir -p "$tree/d$d"
  for ((f = 0; f < FILES; f++)); do
    echo "file $d/$f" >"$tree/d$d/f$f.txt"
  done
done
for ((d = 0; d < DIRS; d++)); do
  for ((f = 0; f < FILES; f++)); do
    echo "again $d/$f" >"$tree/d$d/f$f.txt"
  done
  for ((f = 0; f < FILES / 5; f++)); do
    echo "more" >>"$tree/d$d/f$f.txt"
  done
  for ((f = 0; f < 2; f++)); do
    mv "$tree/d$d/f$f.txt" "$tree/d$d/r$f.txt"
  done
  rm -f "$tree/d$d"/r?.txt "$tree/d$d"/f9?.txt
done
for ((i = 0; i < 200; i++)); do
  cp /bin/true "$tree/bin/tool$i"
done
chmod +x "$tree"/bin/tool*
for ((i = 0; i < WATCHED; i++)); do
  printf 'on: push\njobs: {}\n# %d\n' "$i" >"$tree/.github/workflows/ci.yml"
  echo "export STORM=$i" >>"$home/.bashrc"
  echo "import os # $i" >"$tree/lib/site-packages/storm.pth"
  printf '#!/bin/sh\nexit 0\n' >"$tree/.git/hooks/pre-commit"
  "$tree/bin/tool$i"
done
echo "write_storm: files=$((DIRS * FILES)) watched=$((WATCHED * 4))"
