#!/usr/bin/env bash
# tests/format.sh - every C source and header follows .clang-format (the style check CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/bootstrap)"; exit 1; }
bad=0
for f in $(git ls-files '*.c' '*.h'); do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] || { echo "$bad file(s) need clang-format"; exit 1; }
echo "all $(git ls-files '*.c' '*.h' | wc -l) C files formatted"
