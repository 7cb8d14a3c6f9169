#!/usr/bin/env bash
# tests/integration/0121-readiness_scores_learner_fk_concurrency.sh
#      Migration 0106 checks the learner foreign key of career_readiness_scores once per
#      statement (learner_fk_check) instead of by the constraint's row trigger. cs-readiness's
#      upsert of a first score must still lock the learner's profile as the constraint's check did,
#      so that an erasure beside a batch never leaves an orphan score (nor history: migration
#      0099's argument, career_readiness_history_erase):
#       1. the batch's upsert first (transaction open): the learner's erasure waits for it, then
#          its cascade deletes the score and the history written beside it;
#       2. the profile deleted first (transaction open): the upsert waits, then is refused (23503).
#      Two psql sessions per case (tests/sql/36 checks the single-session rules).
set -euo pipefail
: "${CS_PG_DSN:?run through scripts/test}"
T=$(mktemp -d)
DB=t_rsfk_$$
DSN="${CS_PG_DSN%/*}/$DB"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.out; do [ -f "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }; done; exit 1; }
q() { psql "$DSN" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
[ "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'career_readiness_scores'::regclass AND tgname = 'trg_0_learner_fk'")" = 1 ] \
  || fail "career_readiness_scores has no statement check (0106)"
for i in 1 2; do
  q "INSERT INTO user_career_profiles (user_id, profile_source, display_name)
     VALUES ('aaaaaaaa-0000-0000-0000-00000000012$i', 'app', 'L$i')"
done
# cs-readiness's statements of a batch: the score upsert, then the history row.
upsert() {
  echo "INSERT INTO career_readiness_scores AS t (user_id, score, skills, portfolio, interview, learning,
          job_search, mentoring, stage, explanation, model_version, computed_at)
        SELECT '$1'::uuid, 50, 1, 2, 3, 4, 5, 6, 'learning', '{\"v\":2}', 'm1', now()
        ON CONFLICT (user_id) DO UPDATE SET score = EXCLUDED.score;"
}
history() {
  echo "INSERT INTO career_readiness_history (user_id, source_event_id, score, stage, skills, portfolio,
          interview, learning, job_search, mentoring, model_version, emitted, computed_at)
        VALUES ('$1', gen_random_uuid(), 50, 'learning', 1, 2, 3, 4, 5, 6, 'm1', true, now());"
}

# open, say, close, waits_for_lock, waitfor: psql sessions side by side
. "$(dirname "${BASH_SOURCE[0]}")/psql_sessions.sh"

# 1. The batch first: the erasure waits for its lock on the profile, then cascades to its score
#    and (career_readiness_history_erase) its history.
L1=aaaaaaaa-0000-0000-0000-000000000121
open a1
say a1 "SET application_name = 'a1'; SET ROLE cs_worker_readiness; BEGIN; $(upsert $L1) $(history $L1) SELECT 'written';"
waitfor a1 written || fail "case 1: the batch did not run"
open b1
say b1 "SET application_name = 'b1'; SELECT 'erased ' || (gdpr_erase_user('$L1') ->> 'profiles_deleted');"
waits_for_lock b1 || fail "case 1: the erasure did not wait for the batch's transaction"
say a1 "COMMIT;"
close a1
waitfor b1 "erased 1" || fail "case 1: the erasure did not finish"
close b1
[ "$(q "SELECT count(*) FROM career_readiness_scores WHERE user_id = '$L1'")" = 0 ] \
  || fail "case 1: the erasure left the score written beside it"
[ "$(q "SELECT count(*) FROM career_readiness_history WHERE user_id = '$L1'")" = 0 ] \
  || fail "case 1: the erasure left the history written beside it"

# 2. The delete first: the batch's upsert waits for it, then is refused.
L2=aaaaaaaa-0000-0000-0000-000000000122
open b2
say b2 "SET application_name = 'b2'; BEGIN; DELETE FROM user_career_profiles WHERE user_id = '$L2'; SELECT 'deleted';"
waitfor b2 deleted || fail "case 2: the delete did not run"
open a2
say a2 "SET application_name = 'a2'; SET ROLE cs_worker_readiness; $(upsert $L2)"
waits_for_lock a2 || fail "case 2: the upsert did not wait for the deleting transaction"
say b2 "COMMIT;"
close b2
waitfor a2 "violates foreign key constraint \"career_readiness_scores_user_id_fkey\"" \
  || fail "case 2: the upsert was not refused"
close a2
[ "$(q "SELECT count(*) FROM career_readiness_scores WHERE user_id = '$L2'")" = 0 ] \
  || fail "case 2: an orphan score"
echo "ok: 0121 an erasure beside a readiness batch leaves no orphan score (two cases)"
