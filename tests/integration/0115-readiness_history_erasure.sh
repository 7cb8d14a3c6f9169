#!/usr/bin/env bash
# tests/integration/0115-readiness_history_erasure.sh
#      career_readiness_history has no foreign key to user_career_profiles (migration 0096): an
#      erasure racing a cs-readiness batch that writes the learner's score and history still
#      leaves no score and no history of the learner, whichever takes its locks first. Two
#      sessions, as the runtime writes a batch (the score's upsert into career_readiness_scores,
#      migration 0099, then the history row, one transaction) and as an erasure runs
#      (gdpr_erase_user), each order for a learner with no score yet (the batch inserts its row:
#      the foreign key's check locks the profile) and for one with a score (the batch updates it:
#      no check, the row's lock):
#       1. the batch first, committing while the erasure waits: the erasure deletes the score and
#          the history the batch committed (career_readiness_history_erase runs after the cascade
#          that waited);
#       2. the erasure first, committing while the batch waits: the batch fails (its upsert
#          inserts the score row again, whose foreign key finds no profile), nothing of it stays.
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

E=99999999-0000-0000-0000-0000000001e1
q "INSERT INTO user_career_profiles (user_id) SELECT ('99999999-0000-0000-0000-00000000011' || n)::uuid FROM generate_series(5, 8) n"
q "INSERT INTO career_transformation_progress (user_id) SELECT user_id FROM user_career_profiles"
# 117 and 118 have a score already.
q "INSERT INTO career_readiness_scores (user_id, score, skills, portfolio, interview, learning, job_search, mentoring,
                                        stage, model_version, computed_at)
   SELECT ('99999999-0000-0000-0000-00000000011' || n)::uuid, 10, 1, 1, 1, 1, 1, 1, 'exploring', 'm', now()
     FROM generate_series(7, 8) n"

# The batch's writes for learner $1 (as cs-readiness's table definition has them), then a pause of
# $2 s before COMMIT.
batch_sql() {
  cat <<SQL
BEGIN;
INSERT INTO career_readiness_scores AS t (user_id, score, skills, portfolio, interview, learning, job_search,
                                          mentoring, stage, model_version, computed_at, source_event_id)
VALUES ('$1', 42.5, 1, 2, 3, 4, 5, 6, 'learning', 'm', now(), '$E')
ON CONFLICT (user_id) DO UPDATE SET score = EXCLUDED.score, stage = EXCLUDED.stage,
    computed_at = EXCLUDED.computed_at, model_version = EXCLUDED.model_version,
    source_event_id = EXCLUDED.source_event_id;
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

# 1. The batch holds learner $1's score row (and, inserting it, the profile's key); the erasure
#    waits for it, then deletes the score and history.
batch_first() {
  batch_sql "$1" 3 | PGAPPNAME=t0115_batch psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/b1.out" 2>&1 &
  local b1=$!
  sleeping t0115_batch
  erase_sql "$1" 0 | PGAPPNAME=t0115_erase psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/e1.out" 2>&1 &
  local e1=$!
  blocked t0115_erase
  wait "$b1" || { cat "$T/b1.out"; fail "the batch of case 1 ($2) failed"; }
  wait "$e1" || { cat "$T/e1.out"; fail "the erasure of case 1 ($2) failed"; }
  [ "$(q "SELECT count(*) FROM user_career_profiles WHERE user_id = '$1'")" = 0 ] || fail "case 1 ($2): the profile survived"
  [ "$(q "SELECT count(*) FROM career_readiness_history WHERE user_id = '$1'")" = 0 ] \
    || fail "case 1 ($2): the history the batch committed while the erasure waited survived the erasure"
  [ "$(q "SELECT count(*) FROM career_readiness_scores WHERE user_id = '$1'")" = 0 ] \
    || fail "case 1 ($2): the score the batch committed while the erasure waited survived the erasure"
}

# 2. The erasure holds learner $1's rows; the batch waits for it, then fails: nothing of it stays.
erasure_first() {
  erase_sql "$1" 3 | PGAPPNAME=t0115_erase2 psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/e2.out" 2>&1 &
  local e2=$!
  sleeping t0115_erase2
  batch_sql "$1" 0 | PGAPPNAME=t0115_batch2 psql "$DSN" -qAtX -v ON_ERROR_STOP=1 >"$T/b2.out" 2>&1 &
  local b2=$!
  blocked t0115_batch2
  wait "$e2" || { cat "$T/e2.out"; fail "the erasure of case 2 ($2) failed"; }
  local rc=0
  wait "$b2" || rc=$?
  [ "$rc" != 0 ] && grep -q 'foreign key' "$T/b2.out" \
    || { cat "$T/b2.out"; fail "case 2 ($2): the batch after the erasure did not fail on the score row's foreign key"; }
  [ "$(q "SELECT count(*) FROM career_readiness_history WHERE user_id = '$1'")" = 0 ] || fail "case 2 ($2): the history stayed"
  [ "$(q "SELECT count(*) FROM career_readiness_scores WHERE user_id = '$1'")" = 0 ] || fail "case 2 ($2): the score stayed"
}

batch_first 99999999-0000-0000-0000-000000000115 "a first score"
erasure_first 99999999-0000-0000-0000-000000000116 "a first score"
batch_first 99999999-0000-0000-0000-000000000117 "a score updated"
erasure_first 99999999-0000-0000-0000-000000000118 "a score updated"
echo "ok: an erasure and a batch writing the learner's score and history, in either order and whether the learner had a score, leave neither"
