#!/usr/bin/env bash
# tests/integration/0004-loadgen.sh
#      cs-loadgen: the same seed gives the same stream; every generated event passes the codec
#      (cs-produce --dry-run); --malformed events are exactly the ones rejected; --publish delivers
#      every event to the loopback broker, keyed by learner.
set -euo pipefail
BIN=${1:?usage: 0004-loadgen.sh BUILD_BIN_DIR}
: "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

gen() { "$BIN/cs-loadgen" --log-level=warn --learners 500 --days 20 "$@"; }

gen --seed 7 --jsonl "$T/a.jsonl"
gen --seed 7 --jsonl "$T/b.jsonl"
gen --seed 8 --jsonl "$T/c.jsonl"
n=$(wc -l <"$T/a.jsonl")
[ "$n" -gt 1000 ] || fail "only $n events for 500 learners over 20 days"
cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "the same seed gave different streams"
cmp -s "$T/a.jsonl" "$T/c.jsonl" && fail "different seeds gave the same stream"
echo "determinism: ok ($n events)"

"$BIN/cs-produce" --log-level=warn --dry-run "$T/a.jsonl" 2>"$T/dry.err" || { cat "$T/dry.err"; fail "generated events do not validate"; }
for t in content_progress coaching_session_logged job_application_submitted application_status_changed \
         career_milestone_reached portfolio_project_submitted project_reviewed interview_practice_completed \
         assessment_completed skill_assessed learner_profile_updated mentor_feedback_given; do
  grep -q "\"event_type\":\"$t\"" "$T/a.jsonl" || fail "no $t event in the stream"
done
echo "every event validates; every learner-facing type occurs: ok"

gen --seed 7 --malformed 0.05 --log-level=info --jsonl "$T/m.jsonl" 2>"$T/m.log"
bad=$(sed -n 's/.*"malformed":\([0-9]*\).*/\1/p' "$T/m.log")
[ "$bad" -gt 0 ] || fail "no malformed events reported"
set +e
"$BIN/cs-produce" --log-level=warn --dry-run "$T/m.jsonl" >"$T/m.out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "cs-produce accepted a stream with malformed events"
grep -q "$bad rejected" "$T/m.out" || { tail -3 "$T/m.out"; fail "expected exactly $bad rejected lines"; }
echo "malformed: ok ($bad rejected with reasons)"

prefix="t.loadgen.$$."
gen --log-level=info --seed 9 --events 3000 --publish --topic-prefix "$prefix" --malformed 0.02 2>"$T/p.log" || { cat "$T/p.log"; fail "publish failed"; }
grep -q '"delivered":3000' "$T/p.log" || { tail -2 "$T/p.log"; fail "not every event was delivered"; }
total=0
for topic in $(sed -n 's/.*"name": *"\(cs\.[a-z]*\)".*/\1/p' "$(dirname "$0")/../../schemas/topics.json" | sort -u); do
  c=$(kcat -C -b "$CS_KAFKA_BROKERS" -t "$prefix$topic" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l || true)
  total=$((total + c))
done
[ "$total" -eq 3000 ] || fail "broker holds $total messages, expected 3000"
echo "publish: ok (3000 messages on the broker)"
echo "1 passed, 0 failed"
