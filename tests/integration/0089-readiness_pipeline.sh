#!/usr/bin/env bash
# tests/integration/0089-readiness_pipeline.sh
#      cs-readiness end to end: a cs-loadgen stream (20,000 events, 500 learners) drained by
#      cs-progress then cs-readiness gives every touched learner a score whose stored explanation
#      states the same score, a history row per stored change and one readiness_score_changed per
#      emitted change (through the outbox, on the derived topic, the outbox empty at the end); a
#      replay (offsets rewound, another batch size) changes no row and emits nothing.
set -euo pipefail
BIN=${1:?usage: 0089-readiness_pipeline.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_readiness_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
msgs() { kcat -C -b "$CS_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
q "INSERT INTO mentor_profiles (mentor_id, display_name) SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m FROM generate_series(1, 50) m"
P="t.readiness.$$."
topics="${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
derived="${P}cs.derived"
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 500 --mentors 50 --events 20000 --days 0 \
  --seed 7 --log-level warn --jsonl "$T/ev.jsonl" || fail "cs-loadgen"
run() { "$@" --pg-dsn "$DSN" --topics "$topics" --drain --metrics-port -1 --log-level warn --session-timeout-ms 6000; }
run "$BIN/cs-progress" --group "p.$$" 2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress"; }
run "$BIN/cs-readiness" --group "r.$$" --derived-topic "$derived" 2>"$T/r1.err" || { cat "$T/r1.err"; fail "cs-readiness"; }
grep -q '"level":"warn"' "$T/r1.err" && { cat "$T/r1.err"; fail "cs-readiness warned"; }

# The learners of the stream: each line's envelope user_id (the first one; payloads name others),
# but for mentor_availability_changed, whose user_id is a mentor.
touched=$(grep -v '"event_type":"mentor_availability_changed"' "$T/ev.jsonl" | awk 'match($0, /"user_id":"[0-9a-f-]+"/) { print substr($0, RSTART, RLENGTH) }' | sort -u | wc -l)
[ "$(q "SELECT count(readiness_score) FROM career_transformation_progress")" -eq "$touched" ] \
  || fail "expected a score for each of the $touched learners of the stream"
[ "$(q "SELECT count(*) FROM career_transformation_progress WHERE readiness_score IS NOT NULL AND
        ((readiness_explanation->>'overall')::numeric <> readiness_score
         OR readiness_explanation->>'stage' <> readiness_stage
         OR readiness_model_version IS NULL OR readiness_computed_at IS NULL)")" -eq 0 ] \
  || fail "a stored explanation disagrees with its score or stage"
[ "$(q "SELECT count(*) FROM career_transformation_progress p WHERE readiness_score IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM career_readiness_history h WHERE h.user_id = p.user_id AND h.score = p.readiness_score
         AND h.stage = p.readiness_stage AND h.source_event_id = p.readiness_source_event_id)")" -eq 0 ] \
  || fail "a stored score has no history row"
emitted=$(q "SELECT count(*) FROM career_readiness_history WHERE emitted")
[ "$emitted" -gt 0 ] || fail "nothing emitted"
[ "$(q "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "the outbox is not empty"
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "derived topic holds $(msgs "$derived") events, $emitted emitted"
[ "$(q "SELECT count(*) FROM career_transformation_progress WHERE readiness_score IS NOT NULL AND
        (readiness_emitted_score IS DISTINCT FROM readiness_score OR readiness_emitted_stage IS DISTINCT FROM readiness_stage)")" -eq 0 ] \
  || fail "a first score was not emitted"
echo "scores: ok ($touched learners, $emitted events)"

# Downstream, the derived events decode and are logged by cs-audit, each event id once.
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$derived" --group "a.$$" --anchor-topic "${P}anchors" --drain \
  --metrics-port -1 --log-level error --session-timeout-ms 6000 2>"$T/audit.err" || { cat "$T/audit.err"; fail "cs-audit"; }
[ "$(q "SELECT count(DISTINCT event_id) FROM system_logs WHERE event_type = 'readiness_score_changed'")" -eq "$emitted" ] \
  || fail "cs-audit did not log every derived event once"

# Replay: offsets rewound, another batch size: no row changes, nothing emitted.
state() { q "SELECT md5(string_agg(t::text, '|' ORDER BY user_id)) FROM career_transformation_progress t"; }
before=$(state)
q "DELETE FROM consumer_offsets WHERE consumer_group = 'r.$$'"
run "$BIN/cs-readiness" --group "r.$$" --derived-topic "$derived" --batch-size 700 2>"$T/r2.err" || { cat "$T/r2.err"; fail "cs-readiness replay"; }
[ "$(state)" = "$before" ] || fail "the replay changed career_transformation_progress"
[ "$(q "SELECT count(*) FROM career_readiness_history WHERE emitted")" -eq "$emitted" ] || fail "the replay added history"
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "the replay emitted events"
echo "replay: ok (nothing changed, nothing emitted)"
