#!/bin/sh
# tests/contract/schemagen_refusals.sh - cs-schemagen refuses schemas the codec could not honour.
#
# Usage: schemagen_refusals.sh CS_SCHEMAGEN SCHEMAS_DIR
# Each case copies schemas/ to a scratch directory, breaks one thing, runs the generator and
# expects it to fail with a message naming the problem; the untouched copy must succeed first.
set -eu
gen=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=$(sed -n 's/^  \(events\/.*\.avsc\)$/\1/p' "$src/schemas.cmake")
fails=0

# The generator frees nothing on purpose: no leak reports from a sanitizer build.
run() { (cd "$tmp/s" && ASAN_OPTIONS=detect_leaks=0 "$gen" . "$tmp/out" $files) >"$tmp/log" 2>&1; }
fresh() { rm -rf "$tmp/s" "$tmp/out"; cp -r "$src" "$tmp/s"; mkdir -p "$tmp/out/cs"; }

fresh
run || { cat "$tmp/log" >&2; echo "schemagen_refusals: the real schemas are refused" >&2; exit 1; }

# expect DESCRIPTION SED-SCRIPT FILE MESSAGE
expect() {
  fresh
  sed -i "$2" "$tmp/s/$3"
  if run; then
    echo "schemagen_refusals: accepted: $1" >&2
    fails=$((fails + 1))
  elif ! grep -qF -- "$4" "$tmp/log"; then
    echo "schemagen_refusals: $1: expected \"$4\", got: $(cat "$tmp/log")" >&2
    fails=$((fails + 1))
  fi
}

expect "a released version edited in place" 's/"name": "reason"/"name": "why"/' \
  events/user_erasure_requested/v1.avsc "a released version must not change"
expect "a string without a maximum length" 's/"cs.min_length": 1, "cs.max_length": 200,/"cs.min_length": 1,/' \
  events/job_application_submitted/v1.avsc "every string needs \"cs.max_length\""
expect "a misspelt limit" 's/"cs.max": 480/"cs.maximum": 480/' \
  events/coaching_session_logged/v1.avsc "unknown attribute \"cs.maximum\""
expect "an undocumented field" 's/"doc": "The erasure request.", //' \
  events/user_erasure_requested/v1.avsc "missing \"doc\""
expect "an unsupported type" 's/"type": "double", "cs.min": 0, "cs.max": 100,/"type": "float", "cs.min": 0, "cs.max": 100,/' \
  events/assessment_completed/v1.avsc "unsupported type"
expect "a union that is not [null, T]" 's/"type": \["null", "int"\], "default": null, "cs.min": 1, "cs.max": 5,/"type": ["int", "long"], "cs.min": 1, "cs.max": 5,/' \
  events/project_reviewed/v1.avsc "unions must be"
expect "an event on no topic" 's/, "user_erasure_requested"\]/]/' topics.json "not listed under any topic"
expect "a bad default" 's/"default": 1,/"default": "one",/' events/content_progress/v2.avsc "the default does not match the type"
expect "a record attribute typo" 's/"cs.at_least_one": true/"cs.at_least_one_": true/' \
  events/learner_profile_updated/v1.avsc "unknown record attribute"
expect "an unpinned new version" '/^content_progress v2/d' fingerprints.lock "content_progress v2 is not pinned"

[ "$fails" -eq 0 ] || exit 1
echo "schemagen_refusals: every broken schema refused with its reason"
