#!/usr/bin/env bash
# `format.sh fix|check`: the tree's C++ and C through clang-format (.clang-format).
# check names each file that differs and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?fix or check}
command -v clang-format >/dev/null || { echo "format: clang-format missing (make deps)" >&2; exit 1; }
if git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.c')
else
  mapfile -t files < <(find agent collector common transport tests bench -name '*.cpp' -o -name '*.h' -o -name '*.c')
fi
case $mode in
  fix) clang-format -i "${files[@]}" ;;
  check)
    bad=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*: warning' | cut -d: -f1 | sort -u || true)
    [ -z "$bad" ] && exit 0
    sed 's/^/format: not formatted (make format): /' <<<"$bad" >&2
    exit 1 ;;
  *) echo "usage: format.sh fix|check" >&2; exit 2 ;;
esac
