#!/bin/sh
# tests/contract/produce_inputs.sh - cs-produce fails (exit 1) and says so when an input cannot be
# read: a directory given as a file or as stdin, a file that does not exist.
#
# Usage: produce_inputs.sh CS_PRODUCE
# The readable inputs given with it are still validated, and the summary line counts the input
# that was not read; a run of readable files alone still exits 0.
set -eu
produce=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$produce" --schema content_progress >"$tmp/ok.jsonl"
mkdir "$tmp/dir"

# run NAME WANT_RC NEEDLE... -- ARGS: exit status WANT_RC and every NEEDLE on stderr.
check() {
  name=$1 want=$2
  shift 2
  needles=
  while [ "$1" != -- ]; do needles="$needles
$1"; shift; done
  shift
  rc=0
  "$produce" --dry-run "$@" <"${STDIN:-/dev/null}" 2>"$tmp/err" || rc=$?
  [ "$rc" = "$want" ] || { echo "produce_inputs: $name: exit $rc, expected $want" >&2; cat "$tmp/err" >&2; exit 1; }
  echo "$needles" | while IFS= read -r nd; do
    [ -z "$nd" ] || grep -qF -- "$nd" "$tmp/err" || {
      echo "produce_inputs: $name: stderr lacks '$nd'" >&2; cat "$tmp/err" >&2; exit 1; }
  done
  echo "ok - $name"
}

check "a directory as a file" 1 "cs-produce: $tmp/dir: read error after line 0: Is a directory" \
  "0 events: 0 valid, 0 rejected (dry run, nothing published); 1 input not read" -- "$tmp/dir"
check "a directory and a good file" 1 "$tmp/dir: read error" \
  "1 events: 1 valid, 0 rejected (dry run, nothing published); 1 input not read" -- "$tmp/dir" "$tmp/ok.jsonl"
STDIN=$tmp/dir check "a directory as stdin" 1 "cs-produce: <stdin>: read error after line 0" -- -
check "a missing file" 1 "cs-produce: $tmp/nope.jsonl: cannot open: No such file or directory" \
  "1 input not read" -- "$tmp/nope.jsonl" "$tmp/ok.jsonl"
check "readable files only" 0 "2 events: 2 valid, 0 rejected (dry run, nothing published)" -- "$tmp/ok.jsonl" "$tmp/ok.jsonl"
