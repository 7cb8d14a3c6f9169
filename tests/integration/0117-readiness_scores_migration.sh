#!/usr/bin/env bash
# tests/integration/0117-readiness_scores_migration.sh
#      Migration 0099 on a database that has scores already: a schema built up to 0098 gets a
#      learner scored by cs-readiness (stage, six dimensions, explanation, emitted score and stage,
#      fingerprint on its progress row), a learner with a score of another writer (0010's columns
#      only, no stage) and one with none; cs-migrate applies the rest. The first score moves to
#      career_readiness_scores column for column and its progress row's readiness columns are
#      emptied; the other writer's score stays on its progress row and is not carried; cs-readiness's
#      read (career_readiness_inputs_fp) gives the carried score, and skips the learner by the
#      fingerprint stored there. PostgreSQL only.
set -euo pipefail
BIN=${1:?usage: 0117-readiness_scores_migration.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
DB=t_rscores_mig_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

mkdir -p "$T/migrations"
for f in "$ROOT"/sql/migrations/*.sql; do
  n=$(basename "$f")
  [[ $n < 0099 ]] && cp "$f" "$T/migrations/"
done
psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE template0"
# The function files as they are (a PL/pgSQL body's tables are looked up when it runs).
"$BIN/cs-migrate" --pg-dsn "$DSN" --migrations-dir "$T/migrations" --functions-dir "$ROOT/sql/functions" --log-level warn >/dev/null \
  || fail "migrating up to 0098"
A=99999999-0000-0000-0000-0000000001a1   # scored by cs-readiness
B=99999999-0000-0000-0000-0000000001b2   # a score of another writer
C=99999999-0000-0000-0000-0000000001c3   # no score
q "INSERT INTO user_career_profiles (user_id, last_active_at) VALUES ('$A', '2026-11-02 10:00+00'), ('$B', now()), ('$C', now())"
q "INSERT INTO career_transformation_progress (user_id) VALUES ('$A'), ('$B'), ('$C')"
q "UPDATE career_transformation_progress SET readiness_score = 55.67, readiness_technical = 52, readiness_portfolio = 61,
     readiness_interview = 55.33, readiness_learning = 63.25, readiness_job_search = 28.33, readiness_mentoring = 72.5,
     readiness_stage = 'interviewing', readiness_explanation = '{\"v\":2,\"overall\":55.67}',
     readiness_model_version = 'm1', readiness_computed_at = '2026-11-02 10:00+00',
     readiness_source_event_id = '99999999-0000-0000-0000-0000000001e1', readiness_emitted_score = 54.01,
     readiness_emitted_stage = 'job_searching', readiness_inputs_fp = 'fp-of-a'
   WHERE user_id = '$A'"
q "UPDATE career_transformation_progress SET readiness_score = 33, readiness_computed_at = now(),
     readiness_components = '{\"x\":1}' WHERE user_id = '$B'"
want=$(q "SELECT readiness_score, readiness_technical, readiness_portfolio, readiness_interview, readiness_learning,
                 readiness_job_search, readiness_mentoring, readiness_stage, readiness_explanation::text,
                 readiness_model_version, readiness_computed_at, readiness_source_event_id, readiness_emitted_score,
                 readiness_emitted_stage, readiness_inputs_fp
            FROM career_transformation_progress WHERE user_id = '$A'")

"$BIN/cs-migrate" --pg-dsn "$DSN" --log-level warn >/dev/null || fail "migrating 0099 onwards over existing scores"

got=$(q "SELECT score, skills, portfolio, interview, learning, job_search, mentoring, stage, explanation::text,
                model_version, computed_at, source_event_id, emitted_score, emitted_stage, inputs_fp
           FROM career_readiness_scores WHERE user_id = '$A'")
[ "$got" = "$want" ] || fail "A's carried score: '$got', expected '$want'"
[ "$(q "SELECT string_agg(right(user_id::text, 3), ',') FROM career_readiness_scores")" = "1a1" ] \
  || fail "only A's score is carried"
[ "$(q "SELECT count(*) FROM career_transformation_progress WHERE user_id = '$A' AND num_nonnulls(readiness_score,
          readiness_technical, readiness_portfolio, readiness_interview, readiness_learning, readiness_job_search,
          readiness_mentoring, readiness_stage, readiness_explanation, readiness_model_version, readiness_computed_at,
          readiness_source_event_id, readiness_emitted_score, readiness_emitted_stage, readiness_inputs_fp) = 0")" = 1 ] \
  || fail "A's progress row still holds readiness columns"
[ "$(q "SELECT readiness_score || ' ' || readiness_components::text FROM career_transformation_progress WHERE user_id = '$B'")" \
  = '33.00 {"x": 1}' ] || fail "another writer's score on the progress row changed"
# cs-readiness's read: the carried score, and A left out by its carried fingerprint under its model.
[ "$(q "SELECT readiness_score || '/' || readiness_stage || '/' || readiness_emitted_stage
          FROM career_readiness_inputs_fp(ARRAY['$A']::uuid[])")" = "55.67/interviewing/job_searching" ] \
  || fail "the read does not give A's carried score"
# ... and, its fingerprint now the one of its inputs, leaves it out under its model.
q "UPDATE career_readiness_scores SET inputs_fp = (SELECT inputs_fp FROM career_readiness_inputs_fp(ARRAY['$A']::uuid[]))"
[ "$(q "SELECT string_agg(right(user_id::text, 3), ',' ORDER BY user_id)
          FROM career_readiness_inputs_fp(ARRAY['$A', '$B', '$C']::uuid[], NULL, 'm1')")" = "1b2,1c3" ] \
  || fail "the read does not leave A out by the fingerprint stored in career_readiness_scores"
echo "ok: cs-readiness's scores carried to career_readiness_scores and emptied on the progress rows, another writer's kept"
