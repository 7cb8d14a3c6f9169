#!/usr/bin/env bash
# tests/interop/0006-python_producer.sh
#      An independent implementation of the event contract, end to end: tests/interop/produce.py
#      (fastavro + confluent-kafka, from schemas/ alone) computes every schema version's
#      fingerprint exactly as schemas/fingerprints.lock pins it; writes the same bytes, key,
#      partition and headers as cs-produce for the same JSON events; and publishes a stream of
#      every event type the workers handle (a few learners, content_progress also in v1) to fresh
#      topics, which cs-audit and cs-progress (--drain) apply into a fresh database: every event
#      is in system_logs with its envelope and its payload as sent, every handled event's rows hold
#      the values sent, and the one event written with a wrong fingerprint is dead-lettered (table
#      and .dlq topic, by both workers) and nothing else is.
#
#   0006-python_producer.sh BUILD_BIN_DIR SOURCE_DIR     (CS_PG_DSN, CS_KAFKA_BROKERS: scripts/test)
#
# The Python side runs in .cache/venv (scripts/bootstrap installs tests/interop/requirements.txt
# there); without it the test fails and says so. CS_TEST_KEEP=1 keeps the database and the files.
set -euo pipefail
BIN=${1:?usage: 0006-python_producer.sh BUILD_BIN_DIR SOURCE_DIR}
SRC=${2:-${CS_SOURCE_DIR:?usage: 0006-python_producer.sh BUILD_BIN_DIR SOURCE_DIR}}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
fail() { echo "FAIL: $*" >&2; exit 1; }

PY=$SRC/.cache/venv/bin/python
[ -x "$PY" ] || fail "no Python peers in $SRC/.cache/venv: run scripts/bootstrap (it installs tests/interop/requirements.txt)"
"$PY" -c 'import confluent_kafka, fastavro' 2>/dev/null \
  || fail "$PY cannot import confluent_kafka and fastavro: run scripts/bootstrap"
PRODUCE="$PY $SRC/tests/interop/produce.py --schemas $SRC/schemas"

T=$(mktemp -d)
DB=t_interop_py_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { [ -n "${CS_TEST_KEEP:-}" ] && { echo "kept $DB and $T" >&2; return; }; psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
export PGCLIENTENCODING=UTF8
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
ms() { date +%s%3N; }

# 1. The fingerprints, computed from the .avsc files by the Avro specification's algorithm (and
#    cross-checked with fastavro's inside produce.py), are the ones the contract pins.
$PRODUCE fingerprints | sort >"$T/fp"
grep -v '^#' "$SRC/schemas/fingerprints.lock" | sort | diff -u - "$T/fp" \
  || fail "produce.py's fingerprints differ from schemas/fingerprints.lock"
echo "fingerprints: ok ($(wc -l <"$T/fp") schema versions, as schemas/fingerprints.lock pins them)"

# 2. The stream: every handled type for 8 learners, 3 mentors' availability, one learner's second
#    content in v1; one interview practice will carry a fingerprint no schema has.
$PRODUCE sample --learners 8 --seed 6 --v1 1 >"$T/ev.jsonl"
n=$(wc -l <"$T/ev.jsonl")
types=$(sed -n 's/.*"event_type": "\([a-z_]*\)".*/\1/p' "$T/ev.jsonl" | sort -u | wc -l)
[ "$types" -ge 14 ] || fail "the sample has only $types event types"
grep -q '"schema_version": 1' "$T/ev.jsonl" || fail "the sample has no v1 event"
bad_id=$(grep -m1 '"event_type": "interview_practice_completed"' "$T/ev.jsonl" | sed 's/.*"event_id": "\([0-9a-f-]*\)".*/\1/')
[ -n "$bad_id" ] || fail "no event to corrupt"
# The C contract accepts every line (a dry run validates without publishing).
"$BIN/cs-produce" --dry-run --log-level warn "$T/ev.jsonl" || fail "cs-produce --dry-run refuses the sample"

# 3. Same JSON events, two producers: the same partition, key, value bytes and headers. (cs-produce
#    always writes the current version, so the v1 lines are left out here.)
prefix="t.interop.$$."
export CS_ANCHOR_TOPIC="${prefix}anchors" # this run's audit anchors only
grep -v '"schema_version": 1' "$T/ev.jsonl" >"$T/current.jsonl"
$PRODUCE publish --brokers "$CS_KAFKA_BROKERS" --topic "${prefix}py" "$T/current.jsonl" >/dev/null \
  || fail "produce.py publish (comparison topic)"
"$BIN/cs-produce" --kafka-brokers "$CS_KAFKA_BROKERS" --topic "${prefix}c" --log-level warn "$T/current.jsonl" \
  || fail "cs-produce (comparison topic)"
$PRODUCE dump --brokers "$CS_KAFKA_BROKERS" --topic "${prefix}py" >"$T/dump.py"
$PRODUCE dump --brokers "$CS_KAFKA_BROKERS" --topic "${prefix}c" >"$T/dump.c"
[ "$(wc -l <"$T/dump.py")" -eq "$(wc -l <"$T/current.jsonl")" ] || fail "the comparison topic lacks messages"
[ "$(cut -d' ' -f1 "$T/dump.py" | sort -u | wc -l)" -ge 2 ] || fail "every learner in one partition"
diff "$T/dump.py" "$T/dump.c" >"$T/dump.diff" || { head -4 "$T/dump.diff"; fail "produce.py and cs-produce wrote different messages"; }
echo "same bytes: ok ($(wc -l <"$T/dump.py") messages: partition, key, value and headers identical to cs-produce's)"

# 4. The stream into the per-test topics, the wrong fingerprint included.
t0=$(ms)
$PRODUCE publish --brokers "$CS_KAFKA_BROKERS" --topic-prefix "$prefix" --corrupt-fingerprint "$bad_id" \
  "$T/ev.jsonl" >"$T/pub.json" || { cat "$T/pub.json"; fail "produce.py publish"; }
grep -q "\"delivered\": $n," "$T/pub.json" || { cat "$T/pub.json"; fail "not all $n events delivered"; }
echo "published: $n events of $types types in $(($(ms) - t0)) ms ($(cat "$T/pub.json"))"

# 5. What was sent, beside what will be applied: one jsonb per event in the fresh database; the
#    mentors the sessions reference exist (mentor_profiles, as the platform's seed makes them).
psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
q "CREATE TABLE interop_sent (j jsonb NOT NULL)"
psql "$DSN" -qv ON_ERROR_STOP=1 -c "\\copy interop_sent (j) FROM '$T/ev.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
[ "$(q "SELECT count(*) FROM interop_sent")" -eq "$n" ] || fail "the events did not load"
q "CREATE VIEW ev AS SELECT j->>'event_type' AS type, (j->>'event_id')::uuid AS id, (j->>'user_id')::uuid AS uid,
     (j->>'occurred_at')::timestamptz AS at, j->'payload' AS p, j FROM interop_sent WHERE j->>'event_id' <> '$bad_id'"

q "INSERT INTO mentor_profiles (mentor_id, display_name)
   SELECT DISTINCT (p->>'mentor_id')::uuid, 'Mentor ' || (p->>'mentor_id') FROM ev WHERE type = 'mentor_availability_changed'"

# The workers drain the topics.
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile; do topics="$topics${topics:+,}$prefix$t"; done
for w in audit progress; do
  t0=$(ms)
  rc=0
  "$BIN/cs-$w" --pg-dsn "$DSN" --kafka-brokers "$CS_KAFKA_BROKERS" --topics "$topics" --group "g.$w.$$" \
    --drain --log-level warn --session-timeout-ms 6000 2>"$T/$w.log" || rc=$?
  [ "$rc" -eq 0 ] || { tail -20 "$T/$w.log"; fail "cs-$w --drain exited $rc"; }
  echo "cs-$w --drain: $(($(ms) - t0)) ms"
done

# 6. The audit log: every event but the bad one, its envelope and payload as sent.
good=$((n - 1))
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$good" ] || fail "system_logs has $(q "SELECT count(*) FROM system_logs") rows, expected $good"
got=$(q "SELECT count(*) FROM ev JOIN system_logs l ON l.event_id = ev.id
          WHERE l.event_type = ev.type AND l.user_id = ev.uid AND l.occurred_at = ev.at
            AND l.producer = ev.j->>'producer' AND l.traceparent IS NOT DISTINCT FROM ev.j->>'traceparent'
            AND l.schema_version = coalesce((ev.j->>'schema_version')::int, CASE ev.type WHEN 'content_progress' THEN 2 ELSE 1 END)
            AND l.source_topic = '$prefix' || CASE WHEN ev.type IN ('coaching_session_logged', 'mentor_feedback_given',
                 'mentor_availability_changed') THEN 'cs.mentoring' WHEN ev.type IN ('job_application_submitted',
                 'application_status_changed', 'interview_practice_completed', 'employer_feedback_received')
                 THEN 'cs.jobsearch' WHEN ev.type IN ('portfolio_project_submitted', 'project_reviewed') THEN 'cs.portfolio'
                 WHEN ev.type = 'learner_profile_updated' THEN 'cs.profile' ELSE 'cs.learning' END")
[ "$got" -eq "$good" ] || fail "only $got of $good events are in system_logs with the envelope as sent"
# The payload as sent; v1 content_progress is read as v2 (session_id null, attempt 1).
q "SELECT ev.type, ev.id, ev.p, l.payload FROM ev JOIN system_logs l ON l.event_id = ev.id
    WHERE l.payload::jsonb <> CASE WHEN ev.j->>'schema_version' = '1'
          THEN ev.p || '{\"session_id\": null, \"attempt\": 1}' ELSE ev.p END" >"$T/payload.diff"
[ ! -s "$T/payload.diff" ] || { head -3 "$T/payload.diff"; fail "$(wc -l <"$T/payload.diff") payloads differ from what was sent"; }
q "SELECT count(*) FROM system_logs WHERE event_id = '$bad_id'" | grep -qx 0 || fail "the bad event was logged"
echo "system_logs: ok ($good events: envelope, topic, schema version and payload as sent)"

# 7. cs-progress: the rows of every handled event hold the values sent (joined on the event).
match() { # NAME TYPE TABLE ON
  local want got
  want=$(q "SELECT count(*) FROM ev WHERE type = '$2'")
  got=$(q "SELECT count(*) FROM ev JOIN $3 x ON $4 WHERE ev.type = '$2'")
  [ "$want" -gt 0 ] && [ "$got" -eq "$want" ] || fail "$1: $got of $want $2 events have their row as sent"
}
match skills_assessment assessment_completed user_skill_assessments \
  "x.event_id = ev.id AND x.user_id = ev.uid AND x.assessment_id = (p->>'assessment_id')::uuid
   AND x.skill_id = (p->>'skill_id')::uuid AND x.score = (p->>'score')::numeric AND x.passed = (p->>'passed')::bool
   AND x.attempt_number = (p->>'attempt')::int AND x.time_spent_seconds = (p->>'duration_seconds')::int"
match skills_assessed skill_assessed user_skill_assessments \
  "x.event_id = ev.id AND x.user_id = ev.uid AND x.skill_id = (p->>'skill_id')::uuid
   AND x.assessed_by = (p->>'assessor_id')::uuid AND x.assessment_method = 'mentor_evaluation'
   AND x.assessor_type = 'mentor' AND x.proficiency_level = p->>'proficiency'
   AND x.proficiency_score = (p->>'score')::numeric"
match milestones career_milestone_reached career_milestones \
  "x.event_id = ev.id AND x.user_id = ev.uid AND x.title = p->>'title' AND x.points = (p->>'readiness_points')::int
   AND x.milestone_type = 'project_showcase_ready' AND x.achieved_at = ev.at"
match sessions coaching_session_logged career_coaching_sessions \
  "x.session_id = (p->>'session_id')::uuid AND x.user_id = ev.uid AND x.mentor_id = (p->>'mentor_id')::uuid
   AND x.duration_minutes = (p->>'duration_minutes')::int AND x.session_type = 'mock_interview'
   AND x.actual_started_at = (p->>'started_at')::timestamptz AND x.mentor_notes = p->>'notes'
   AND x.topics_covered = ARRAY(SELECT jsonb_array_elements_text(p->'goals_discussed'))"
match applications job_application_submitted job_applications \
  "x.application_id = (p->>'application_id')::uuid AND x.user_id = ev.uid AND x.company_name = p->>'company_name'
   AND x.job_title = p->>'job_title' AND x.job_posting_url = p->>'job_posting_url'
   AND x.salary_min = (p->>'salary_expected')::numeric AND x.salary_currency = p->>'salary_currency'
   AND x.applied_at = ev.at AND x.interview_rounds = 1
   AND x.status = CASE WHEN x.offer_salary IS NOT NULL THEN 'accepted' ELSE 'rejected' END"
match status_history application_status_changed job_application_status_history \
  "x.event_id = ev.id AND x.application_id = (p->>'application_id')::uuid AND x.changed_at = ev.at
   AND x.offer_salary IS NOT DISTINCT FROM (p->>'salary_offered')::numeric
   AND x.rejection_reason IS NOT DISTINCT FROM p->>'rejection_reason'"
[ "$(q "SELECT count(*) FROM interop_sent s JOIN job_applications a ON a.application_id = (s.j->'payload'->>'application_id')::uuid
        WHERE s.j->'payload'->>'status' = 'accepted' AND a.status = 'accepted'
          AND a.offer_salary = (s.j->'payload'->>'salary_offered')::numeric")" -eq 4 ] \
  || fail "accepted applications lack their salary"
match practice interview_practice_completed interview_preparation \
  "x.event_id = ev.id AND x.user_id = ev.uid AND x.overall_score = (p->>'score')::numeric
   AND x.target_role = p->>'target_role' AND x.duration_minutes = (p->>'duration_minutes')::int"
match employer_feedback employer_feedback_received employer_feedback \
  "x.feedback_id = (p->>'feedback_id')::uuid AND x.user_id = ev.uid AND x.employer_name = p->>'employer_name'
   AND x.overall_performance_rating = (p->>'performance_rating')::int
   AND x.soft_skills_rating = (p->>'soft_skills_rating')::int AND x.would_hire_again = (p->>'would_hire_again')::bool"
match projects portfolio_project_submitted user_portfolio_projects \
  "x.project_id = (p->>'project_id')::uuid AND x.user_id = ev.uid AND x.title = p->>'title'
   AND x.repository_url = p->>'repository_url' AND x.live_demo_url IS NULL
   AND x.tech_stack = ARRAY(SELECT jsonb_array_elements_text(p->'technologies')) AND x.submitted_at = ev.at"
match reviews project_reviewed project_reviews \
  "x.review_id = (p->>'review_id')::uuid AND x.project_user_id = ev.uid AND x.project_id = (p->>'project_id')::uuid
   AND x.reviewer_id = (p->>'reviewer_id')::uuid AND x.code_quality_score = (p->>'code_quality_rating')::int
   AND x.recommends_showcase = (p->>'showcase_ready')::bool AND x.improvements = p->>'feedback'"
match profiles learner_profile_updated user_career_profiles \
  "x.user_id = ev.uid AND x.target_role = p->>'target_role'
   AND x.available_study_hours_week = (p->>'available_study_hours_week')::numeric"
# user_progress: per learner and content, completed, the time of all three events summed (v1 too).
want=$(q "SELECT count(DISTINCT (uid, p->>'content_id')) FROM ev WHERE type = 'content_progress'")
got=$(q "SELECT count(*) FROM (SELECT uid, (p->>'content_id')::uuid AS cid, sum((p->>'time_spent_seconds')::int) AS s,
          max(at) AS last FROM ev WHERE type = 'content_progress' GROUP BY 1, 2) e
          JOIN user_progress x ON x.user_id = e.uid AND x.content_id = e.cid
         WHERE x.status = 'completed' AND x.progress_pct = 100 AND x.time_spent_seconds = e.s AND x.last_event_at = e.last")
[ "$want" -gt 0 ] && [ "$got" -eq "$want" ] || fail "user_progress: $got of $want (learner, content) rows as sent"
[ "$(q "SELECT count(*) FROM user_progress")" -eq "$want" ] || fail "user_progress has rows nobody sent"
learners=$(q "SELECT count(DISTINCT uid) FROM ev WHERE type <> 'mentor_availability_changed'")
[ "$(q "SELECT count(*) FROM career_transformation_progress")" -eq "$learners" ] \
  || fail "career_transformation_progress: expected one row per learner ($learners)"
echo "cs-progress: ok (rows of 13 event types as sent, $want progress rows, $learners learners)"

# 8. The bad fingerprint, and nothing else, is dead-lettered by both workers, with the reason.
q "SELECT worker || '|' || topic || '|' || error_class || '|' || coalesce(field, '') FROM dead_letters ORDER BY worker" >"$T/dl"
printf 'audit|%scs.jobsearch|decode|fingerprint\nprogress|%scs.jobsearch|decode|fingerprint\n' "$prefix" "$prefix" \
  | diff -u - "$T/dl" || fail "dead_letters should hold the bad event once per worker, and nothing else"
[ "$(q "SELECT count(*) FROM dead_letters WHERE reason LIKE '%unknown writer schema fingerprint%'")" -eq 2 ] \
  || fail "the dead letters do not name the unknown fingerprint: $(q "SELECT reason FROM dead_letters LIMIT 1")"
dlq=$(kcat -C -b "$CS_KAFKA_BROKERS" -t "${prefix}cs.jobsearch.dlq" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l || true)
[ "$dlq" -eq 2 ] || fail "${prefix}cs.jobsearch.dlq holds $dlq messages, expected 2"
for t in cs.learning cs.mentoring cs.portfolio cs.profile; do
  c=$(kcat -C -b "$CS_KAFKA_BROKERS" -t "$prefix$t.dlq" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l || true)
  [ "$c" -eq 0 ] || fail "$prefix$t.dlq holds $c messages"
done
echo "dead letters: ok (the bad fingerprint only, once per worker, in the table and on the .dlq topic)"
echo "1 passed, 0 failed"
