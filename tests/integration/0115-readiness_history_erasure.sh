#!/usr/bin/env bash
# tests/integration/0115-readiness_history_erasure.sh
#      career_readiness_history has no foreign key to user_career_profiles (migration 0096): an
#      erasure racing a cs-readiness batch that writes the learner's score and history still
#      leaves no history of the learner, whichever takes its locks first. Two sessions, as the
#      runtime writes a batch (the score's upsert into career_transformation_progress, then the
#      history row, one transaction) and as an erasure runs (gdpr_erase_user):
#       1. the batch first, committing while the erasure waits: the erasure deletes the history the
#          batch committed (career_readiness_history_erase runs after the cascade that waited);
#       2. the erasure first, committing while the batch waits: the batch fails (its upsert
#          inserts the progress row again, whose foreign key finds no profile), nothing of it stays.
set -euo pipefail
BIN=${1:?usage: 0115-readiness_history_erasure.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
T=$(mktemp -d)
DB=t_rherase_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
[ "$(q "SELECT count(*) FROM pg_constraint WHERE conrelid = 'career_readiness_history'::regclass AND contype = 'f'")" = 0 ] \
  || fail "career_readiness_history still has a foreign key"

X=99999999-0000-0000-0000-000000000115
Y=99999999-0000-0000-0000-000000000116
E=99999999-0000-0000-0000-0000000001e1
q "INSERT INTO user_career_profiles (user_id) VALUES ('$X'), ('$Y')"
q "INSERT INTO career_transformation_progress (user_id) VALUES ('$X'), ('$Y')"

# The batch's writes for learner $1, then a pause of $2 s before COMMIT.
batch_sql() {
  cat <<SQL
BEGIN;
INSERT INTO career_transformation_progress AS t (user_id, readiness_score, readiness_stage, readiness_computed_at,
                                                 readiness_model_version, readiness_source_event_id)
VALUES ('$1', 42.5, 'learning', now(), 'm', '$E')
ON CONFLICT (user_id) DO UPDATE SET readiness_score = EXCLUDED.readiness_score, readiness_stage = EXCLUDED.readiness_stage,
    readiness_computed_at = EXCLUDED.readiness_computed_at, readiness_model_version = EXCLUDED.readiness_model_version,
    readiness_source_event_id = EXCLUDED.readiness_source_event_id, updated_at = pg_catalog.clock_timestamp();
INSERT INTO career_readiness_history (user_id, source_event_id, score, stage, skills, portfolio, interview, learning,
                                      job_search, mentoring, model_version, emitted)
VALUES ('$1', '$E', 42.5, 'learning', 1, 2, 3, 4, 5, 6, 'm', true)
ON CONFLICT (user_id, source_event_id) DO NOTHING;
SELECT pg_sleep($2);
COMMIT;
SQL
}
erase_sql() {
  printf "BEGIN;\nSELECT gdpr_erase_user('%s', NULL, 'user_request');\nSELECT pg_sleep(%s);\nCOMMIT;\n" "$1" "$2"
}
# Waits until the session named $1 sleeps (its writes done, its locks held).
sleeping() {
  for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND query LIKE '%pg_sleep%' AND state = 'active'")" = 1 ] && return 0
    sleep 0.1
  done
  fail "session $1 never reached its pause"
}
# Waits until the session named $1 waits for a lock.
blocked() {
  for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND wait_event_type = 'Lock'")" = 1 ] && return 0
    sleep 0.1
  done
  fail "session $1 never waited for a lock"
}

# 1. The batch holds learner X's progress row; the erasure waits for it, then deletes its history.
batch_sql "$X" 3 | PGAPPNAME=t0115_batch psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/b1.out" 2>&1 &
b1=$!
sleeping t0115_batch
erase_sql "$X" 0 | PGAPPNAME=t0115_erase psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/e1.out" 2>&1 &
e1=$!
blocked t0115_erase
wait "$b1" || { cat "$T/b1.out"; fail "the batch of case 1 failed"; }
wait "$e1" || { cat "$T/e1.out"; fail "the erasure of case 1 failed"; }
[ "$(q "SELECT count(*) FROM user_career_profiles WHERE user_id = '$X'")" = 0 ] || fail "case 1: X's profile survived"
[ "$(q "SELECT count(*) FROM career_readiness_history WHERE user_id = '$X'")" = 0 ] \
  || fail "case 1: the history the batch committed while the erasure waited survived the erasure"

# 2. The erasure holds learner Y's rows; the batch waits for it, then fails: nothing of Y stays.
erase_sql "$Y" 3 | PGAPPNAME=t0115_erase2 psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/e2.out" 2>&1 &
e2=$!
sleeping t0115_erase2
batch_sql "$Y" 0 | PGAPPNAME=t0115_batch2 psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/b2.out" 2>&1 &
b2=$!
blocked t0115_batch2
wait "$e2" || { cat "$T/e2.out"; fail "the erasure of case 2 failed"; }
rc=0
wait "$b2" || rc=$?
[ "$rc" != 0 ] && grep -q 'foreign key' "$T/b2.out" \
  || { cat "$T/b2.out"; fail "case 2: the batch after the erasure did not fail on the progress row's foreign key"; }
[ "$(q "SELECT count(*) FROM career_readiness_history WHERE user_id = '$Y'")" = 0 ] || fail "case 2: Y's history stayed"
[ "$(q "SELECT count(*) FROM career_transformation_progress WHERE user_id = '$Y'")" = 0 ] || fail "case 2: Y's progress row stayed"
echo "ok: an erasure and a batch writing the learner's history, in either order, leave no history"
