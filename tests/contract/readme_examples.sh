#!/bin/sh
# tests/contract/readme_examples.sh - schemas/README.md is current and every JSON example in it is valid.
#
# Usage: readme_examples.sh CS_PRODUCE README.md GENERATED_EVENTS_MD
# 1. The per-event reference in README.md (between the "generated" markers) must be exactly what
#    cs-schemagen generated from the schemas in this build (schemas/update-readme.sh refreshes it).
# 2. Every line of every ```json block in README.md must pass `cs-produce --dry-run`, and there
#    must be at least one example per event type.
set -eu
produce=$1 readme=$2 generated=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n '/^<!-- BEGIN generated reference -->$/,/^<!-- END generated reference -->$/p' "$readme" |
  sed '1d;$d' >"$tmp/section.md"
if ! cmp -s "$tmp/section.md" "$generated"; then
  echo "readme_examples: the event reference in $readme is stale; run schemas/update-readme.sh" >&2
  diff -u "$tmp/section.md" "$generated" | head -40 >&2
  exit 1
fi

awk '/^```json$/{inblock=1; next} /^```$/{inblock=0; next} inblock && NF' "$readme" >"$tmp/examples.jsonl"
n=$(wc -l <"$tmp/examples.jsonl")
types=$("$produce" --schema list | wc -l)
if [ "$n" -lt "$types" ]; then
  echo "readme_examples: only $n JSON examples in $readme, fewer than the $types event types" >&2
  exit 1
fi
for t in $("$produce" --schema list | cut -f1); do
  grep -q "\"event_type\":\"$t\"" "$tmp/examples.jsonl" || {
    echo "readme_examples: no example of $t in $readme" >&2
    exit 1
  }
done
"$produce" --dry-run "$tmp/examples.jsonl" 2>"$tmp/err" || {
  cat "$tmp/err" >&2
  echo "readme_examples: some JSON examples in $readme are rejected" >&2
  exit 1
}
grep -q "$n events: $n valid, 0 rejected" "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
echo "readme_examples: $n examples valid, reference current"
