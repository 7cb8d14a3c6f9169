#!/usr/bin/env bash
# tests/integration/0116-progress_learner_fk_concurrency.sh
#      Migration 0098 checks the learner foreign key of cs-progress's busiest tables once per
#      statement (learner_fk_check) instead of by the constraint's row trigger. The check must lock
#      as the constraint's did, so that an erasure beside an insert never leaves an orphan:
#       1. rows inserted first (transaction open): the learner's erasure waits for it, then its
#          cascade deletes them;
#       2. the profile deleted first (transaction open): the insert waits, then is refused (23503);
#       3. in REPEATABLE READ, an insert for a learner deleted since the snapshot is a
#          serialization failure (40001), as the constraint's own check makes it.
#      Two psql sessions per case (tests/sql/30 checks the single-session rules).
set -euo pipefail
: "${CS_PG_DSN:?run through scripts/test}"
T=$(mktemp -d)
DB=t_lfk_$$
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
[ "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'career_milestones'::regclass AND tgname = 'trg_0_learner_fk'")" = 1 ] \
  || fail "career_milestones has no statement check (0098)"
for i in 1 2 3; do
  q "INSERT INTO user_career_profiles (user_id, profile_source, display_name)
     VALUES ('aaaaaaaa-0000-0000-0000-00000000011$i', 'app', 'L$i')"
done

# open, say, close, waits_for_lock, waitfor: psql sessions side by side
. "$(dirname "${BASH_SOURCE[0]}")/psql_sessions.sh"

# 1. The insert first: the erasure waits for its lock on the profile, then cascades to its rows.
open a1
say a1 "SET application_name = 'a1'; BEGIN; INSERT INTO career_milestones (user_id, milestone_type, reference_id)
        VALUES ('aaaaaaaa-0000-0000-0000-000000000111', 'offer_received', gen_random_uuid()); SELECT 'inserted';"
waitfor a1 inserted || fail "case 1: the insert did not run"
open b1
say b1 "SET application_name = 'b1'; SELECT 'erased ' || (gdpr_erase_user('aaaaaaaa-0000-0000-0000-000000000111') ->> 'profiles_deleted');"
waits_for_lock b1 || fail "case 1: the erasure did not wait for the inserting transaction"
say a1 "COMMIT;"
close a1
waitfor b1 "erased 1" || fail "case 1: the erasure did not finish"
close b1
[ "$(q "SELECT count(*) FROM career_milestones WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000111'")" = 0 ] \
  || fail "case 1: the erasure left the rows inserted beside it"
[ "$(q "SELECT count(*) FROM user_career_profiles WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000111'")" = 0 ] \
  || fail "case 1: the profile is still there"

# 2. The delete first: the insert waits for it, then is refused.
open b2
say b2 "SET application_name = 'b2'; BEGIN; DELETE FROM user_career_profiles WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000112'; SELECT 'deleted';"
waitfor b2 deleted || fail "case 2: the delete did not run"
open a2
say a2 "SET application_name = 'a2'; INSERT INTO job_application_status_history (application_id, user_id, to_status, changed_at)
        VALUES (gen_random_uuid(), 'aaaaaaaa-0000-0000-0000-000000000112', 'applied', now());"
waits_for_lock a2 || fail "case 2: the insert did not wait for the deleting transaction"
say b2 "COMMIT;"
close b2
waitfor a2 "violates foreign key constraint \"job_application_status_history_user_id_fkey\"" \
  || fail "case 2: the insert was not refused"
close a2
[ "$(q "SELECT count(*) FROM job_application_status_history WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000112'")" = 0 ] \
  || fail "case 2: an orphan history row"

# 3. REPEATABLE READ: the learner deleted (and committed) since the snapshot.
open a3
say a3 "SET application_name = 'a3'; BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 'snapshot ' || count(*) FROM user_career_profiles;"
waitfor a3 "snapshot" || fail "case 3: no snapshot"
q "DELETE FROM user_career_profiles WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000113'"
say a3 "INSERT INTO user_progress (user_id, content_id, event_id, last_event_at)
        VALUES ('aaaaaaaa-0000-0000-0000-000000000113', gen_random_uuid(), gen_random_uuid(), now());"
say a3 "ROLLBACK;"
close a3
waitfor a3 "could not serialize access" || fail "case 3: no serialization failure"
[ "$(q "SELECT count(*) FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000113'")" = 0 ] \
  || fail "case 3: an orphan progress row"
echo "ok: 0116 an erasure beside an insert leaves no orphan (three cases)"
