#!/usr/bin/env bash
# tests/integration/0110-progress_updated_at.sh
#      cs-progress's upserts set updated_at themselves (workers/progress.c, TOUCH_UPDATED_AT), so
#      the tables' updated_at row trigger, whose WHEN clause (0089, 0104) skips rows a statement
#      set it on, does not call cs_touch_updated_at() for them: after a drain (track_functions =
#      all) the function was called for fewer rows than were updated in all, by at least the
#      updates of user_progress (only cs-progress's upsert updates it); updated rows have an
#      updated_at past their created_at.
set -euo pipefail
BIN=${1:?usage: 0110-progress_updated_at.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_ptouch_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template" -c "ALTER DATABASE $DB SET track_functions = 'all'"
P="t.ptouch.$$."
topics="${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 200 --events 6000 --days 0 --seed 23 \
  --log-level warn || fail "cs-loadgen"
# small batches: many upserts meet rows of earlier batches
"$BIN/cs-progress" --pg-dsn "$DSN" --topics "$topics" --group "p.$$" --drain --metrics-port -1 \
  --session-timeout-ms 6000 --batch-size 200 --log-level warn 2>"$T/progress.err" \
  || { cat "$T/progress.err"; fail "cs-progress"; }

# Rows updated per table with the trigger (partitions summed into their root).
upd() {
  q "SELECT coalesce(sum(s.n_tup_upd), 0) FROM pg_stat_user_tables s
      WHERE s.relid = '$1'::regclass OR s.relid IN (SELECT p.relid FROM pg_partition_tree('$1'::regclass) p)"
}
total() {
  q "SELECT coalesce(sum(s.n_tup_upd), 0) FROM pg_trigger g JOIN pg_stat_user_tables s ON s.relid = g.tgrelid
      WHERE g.tgfoid = 'cs_touch_updated_at'::regproc"
}
calls() { q "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'cs_touch_updated_at'"; }
# the backend's statistics reach the shared ones when it exits: wait for them
for i in $(seq 1 50); do [ "$(upd user_progress)" -gt 0 ] && break; sleep 0.2; done
up=$(upd user_progress) ctp=$(upd career_transformation_progress) all=$(total) n=$(calls)
echo "updated rows: user_progress $up, career_transformation_progress $ctp, all tables $all; cs_touch_updated_at calls $n"
[ "$up" -gt 100 ] || fail "too few updates of user_progress to tell ($up)"
[ $((n + up)) -le "$all" ] \
  || fail "cs_touch_updated_at ran $n times for $all updated rows: the upsert's $up rows ran it"
[ "$(q "SELECT count(*) FROM user_progress WHERE updated_at > created_at")" -gt 0 ] \
  || fail "no updated user_progress row has an updated_at past its created_at"
[ "$(q "SELECT count(*) FROM career_transformation_progress WHERE updated_at > clock_timestamp() OR updated_at < created_at")" = 0 ] \
  || fail "a journey row has an updated_at outside (created_at, now)"
echo "ok"
