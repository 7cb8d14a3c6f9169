#!/bin/sh
# tests/contract/produce_derived.sh - cs-produce refuses derived events unless --allow-derived.
#
# Usage: produce_derived.sh CS_PRODUCE TOPICS_JSON
# Derived events are the ones schemas/topics.json lists under cs.derived: careerstream's own
# workers publish them, an app never does. For each of them the example line is rejected by
# line with "event_type: ... is a derived event" (exit 1) and accepted with --allow-derived; every
# other event type's example still passes; --topic cs.derived is a usage error (exit 2).
set -eu
produce=$1 topics=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

derived=$(python3 -c 'import json,sys
for t in json.load(open(sys.argv[1]))["topics"]:
    if t["name"] == "cs.derived":
        print("\n".join(t["events"]))' "$topics")
[ -n "$derived" ] || { echo "produce_derived: no events under cs.derived in $topics" >&2; exit 1; }

for t in $derived; do
  "$produce" --schema "$t" >"$tmp/$t.jsonl"
  rc=0
  "$produce" --dry-run "$tmp/$t.jsonl" 2>"$tmp/err" || rc=$?
  [ "$rc" = 1 ] || { echo "produce_derived: $t: exit $rc, expected 1" >&2; cat "$tmp/err" >&2; exit 1; }
  grep -qF "$tmp/$t.jsonl:1: event_type: $t is a derived event" "$tmp/err" &&
    grep -qF "1 events: 0 valid, 1 rejected" "$tmp/err" || {
    echo "produce_derived: $t was not refused by line" >&2; cat "$tmp/err" >&2; exit 1; }
  "$produce" --dry-run --allow-derived "$tmp/$t.jsonl" 2>"$tmp/err" || {
    echo "produce_derived: $t refused even with --allow-derived" >&2; cat "$tmp/err" >&2; exit 1; }
done

: >"$tmp/apps.jsonl"
napps=0
for t in $("$produce" --schema list | cut -f1); do
  case " $(echo $derived) " in *" $t "*) continue ;; esac
  "$produce" --schema "$t" >>"$tmp/apps.jsonl"
  napps=$((napps + 1))
done
"$produce" --dry-run "$tmp/apps.jsonl" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
grep -qF "$napps events: $napps valid, 0 rejected" "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }

rc=0
"$produce" --dry-run --topic cs.derived "$tmp/apps.jsonl" 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && grep -qF -- "--topic: cs.derived" "$tmp/err" || {
  echo "produce_derived: --topic cs.derived: exit $rc, expected 2" >&2; cat "$tmp/err" >&2; exit 1; }
echo "produce_derived: $(echo $derived) refused without --allow-derived; $napps app event types accepted"
