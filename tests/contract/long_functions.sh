#!/bin/sh
# tests/contract/long_functions.sh - a report, not a test: every C function longer than a limit in
# libcore/, workers/ and tools/, longest first, as "lines file:line name".
#
# Usage: long_functions.sh [LIMIT] (default 60). Needs Universal Ctags (--fields=+ne gives each
# function's first and last line). Lines are counted from the line of the function's name to its
# closing brace, blank lines and comments included.
set -eu
limit=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v ctags >/dev/null || { echo "long_functions.sh: ctags (Universal Ctags) is needed" >&2; exit 2; }
ctags -x --c-kinds=f --fields=+ne --_xformat='%N %F %n %e' -R libcore workers tools 2>/dev/null |
    awk -v lim="$limit" '$4 != "" { n = $4 - $3 + 1; if (n > lim) printf "%5d %s:%d %s\n", n, $2, $3, $1 }' |
    sort -rn
