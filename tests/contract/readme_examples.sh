#!/bin/sh
# tests/contract/readme_examples.sh - schemas/README.md is current and every JSON example in it is valid.
#
# Usage: readme_examples.sh CS_PRODUCE README.md GENERATED_EVENTS_MD [CC INCLUDE_DIR...]
# 1. The per-event reference in README.md (between the "generated" markers) must be exactly what
#    cs-schemagen generated from the schemas in this build (schemas/update-readme.sh refreshes it).
# 2. Every line of every ```json block in README.md must pass `cs-produce --dry-run`, and there
#    must be at least one example per event type (--allow-derived: the reference shows the
#    derived events too, which only careerstream's own workers publish).
# 3. With CC given, the ```c example compiles against the public headers, warnings as errors.
set -eu
produce=$1 readme=$2 generated=$3
shift 3
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
"$produce" --dry-run --allow-derived "$tmp/examples.jsonl" 2>"$tmp/err" || {
  cat "$tmp/err" >&2
  echo "readme_examples: some JSON examples in $readme are rejected" >&2
  exit 1
}
grep -q "$n events: $n valid, 0 rejected" "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
if [ $# -gt 0 ]; then
  cc=$1
  shift
  awk '/^```c$/{b=1; next} /^```$/{b=0} b' "$readme" >"$tmp/example.c"
  [ -s "$tmp/example.c" ] || { echo "readme_examples: no C example in $readme" >&2; exit 1; }
  incs=
  for d in "$@"; do incs="$incs -I$d"; done
  # shellcheck disable=SC2086
  "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -fsyntax-only $incs "$tmp/example.c" || {
    echo "readme_examples: the C example in $readme does not compile" >&2
    exit 1
  }
fi
echo "readme_examples: $n examples valid, reference current"
