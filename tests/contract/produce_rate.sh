#!/bin/sh
# tests/contract/produce_rate.sh - cs-produce --rate paces events; --dry-run publishes nothing.
#
# Usage: produce_rate.sh CS_PRODUCE
# 50 valid lines at --rate 100 cannot take less than about half a second (only a lower bound is
# checked, so a slow machine cannot make this fail); without --rate they take far less. The
# exit status is 0 for valid input and 1 when one line is bad, and the bad line is named.
set -eu
produce=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ex=$("$produce" --schema content_progress)
i=0
while [ $i -lt 50 ]; do echo "$ex"; i=$((i + 1)); done >"$tmp/ok.jsonl"

ms() { date +%s%3N; }
t0=$(ms)
"$produce" --dry-run --rate 100 "$tmp/ok.jsonl" 2>"$tmp/err"
t1=$(ms)
elapsed=$((t1 - t0))
[ "$elapsed" -ge 450 ] || { echo "produce_rate: 50 events at --rate 100 took ${elapsed} ms" >&2; exit 1; }
grep -q "50 events: 50 valid, 0 rejected (dry run" "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }

{ head -3 "$tmp/ok.jsonl"; echo "$ex" | sed 's/"percent_complete":100/"percent_complete":101/'; } >"$tmp/bad.jsonl"
if "$produce" --dry-run "$tmp/bad.jsonl" 2>"$tmp/err"; then
  echo "produce_rate: a bad line did not fail the run" >&2
  exit 1
fi
grep -q "bad.jsonl:4: payload.percent_complete: 101 is out of range 0..100" "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
echo "produce_rate: paced ${elapsed} ms for 50 events at 100/s; bad line reported"
