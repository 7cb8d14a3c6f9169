#!/bin/sh
# tests/contract/long_functions.sh - the function length limit: every C function in libcore/,
# workers/ and tools/ longer than 60 lines must be named in tests/contract/long_functions.allow
# (the ctest entry contract_long_functions).
#
# Usage: long_functions.sh         list the functions over 60 lines, longest first, as
#                                  "lines file:line name" (allowed ones marked), then fail (exit 1)
#                                  for each one not in the allowlist and for each allowlist entry
#                                  that is no longer over 60 lines (stale), so the list cannot rot.
#        long_functions.sh LIMIT   only list the functions longer than LIMIT lines (a report).
#
# Allowlist lines: "path function reason..." (path from the repository root; '#' starts a comment).
# Needs Universal Ctags (--fields=+ne gives each function's first and last line). Lines are counted
# from the line of the function's name to its closing brace, blank lines and comments included.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v ctags >/dev/null || { echo "long_functions.sh: ctags (Universal Ctags) is needed" >&2; exit 2; }
over() {
    ctags -x --c-kinds=f --fields=+ne --_xformat='%N %F %n %e' -R libcore workers tools 2>/dev/null |
        awk -v lim="$1" '$4 != "" { n = $4 - $3 + 1; if (n > lim) printf "%5d %s:%d %s\n", n, $2, $3, $1 }' |
        sort -rn
}
if [ $# -gt 0 ]; then
    case $1 in '' | *[!0-9]*) echo "long_functions.sh: LIMIT must be a number, not '$1'" >&2; exit 2 ;; esac
    over "$1"
    exit 0
fi
allow=tests/contract/long_functions.allow
[ -r "$allow" ] || { echo "long_functions.sh: cannot read $allow" >&2; exit 2; }
over 60 | awk -v allow="$allow" '
    BEGIN {
        while ((getline line < allow) > 0) {
            sub(/#.*/, "", line)
            if (split(line, f, " ") == 0) continue
            if (f[3] == "") { printf "%s: \"%s %s\" gives no reason\n", allow, f[1], f[2]; bad = 1 }
            key = f[1] " " f[2]; allowed[key] = 1; order[++n] = key
        }
    }
    {
        split($2, p, ":"); key = p[1] " " $3
        if (key in allowed) { seen[key] = 1; print $0 "  (allowed)" }
        else { print $0 "  NOT ALLOWED: split it or name it in " allow; bad = 1 }
    }
    END {
        for (i = 1; i <= n; i++)
            if (!(order[i] in seen)) { printf "%s: stale entry \"%s\" (its function is 60 lines or less, or gone)\n", allow, order[i]; bad = 1 }
        exit bad
    }'
