#!/usr/bin/env bash
# tests/integration/0077-worker_roles.sh
#      The workers run as their own database roles (issue 14, migration 0064): cs-audit as
#      cs_worker_audit and cs-progress as cs_worker_progress (SET through the DSN's options
#      parameter) drain a cs-loadgen stream end to end on the loopback broker, dead letters
#      (written with COPY) included; a replay group <worker>-replay-<job> works; each role sees
#      only its own groups' offsets, processed ids and dead letters; and cs-audit run as its role
#      under a group of cs-progress stops with the row-level security refusal, writing nothing.
set -euo pipefail
BIN=${1:?usage: 0077-worker_roles.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_roles_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
# The same database as the worker role: libpq's options parameter, "-c role=<role>".
as_role() { echo "$DSN?options=-c%20role%3D$1"; }
cleanup() { psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
case $DSN in *\?*) fail "CS_PG_DSN with a query string is not supported here" ;; esac
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
q_as() { psql "$(as_role "$1")" -qAt -v ON_ERROR_STOP=1 -c "$2"; }

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
[ "$(q_as cs_worker_audit "SELECT current_user")" = cs_worker_audit ] || fail "the DSN's options did not set the role"

prefix="t.roles.$$."
# Anchors of this run only: the shared test broker holds other tests' anchors (cs-audit verify
# would report their chains missing from this database).
export CS_ANCHOR_TOPIC="${prefix}anchors"
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
# Nothing publishes to the derived topic before cs-progress runs. A drain gives a missing topic
# 10 s to be created by its subscription, which a loaded broker did not always manage: made first.
"$(dirname "${BASH_SOURCE[0]}")/../../scripts/kafka" tool topics --create --if-not-exists --topic "${prefix}cs.derived" \
  --partitions 4 >"$T/create.out" 2>&1 || { cat "$T/create.out"; fail "topics --create ${prefix}cs.derived"; }
"$BIN/cs-loadgen" --seed 21 --learners 300 --days 0 --events 3000 --malformed 0.02 --publish \
  --topic-prefix "$prefix" --jsonl "$T/ev.jsonl" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }
bad=$(sed -n 's/.*"msg":"done".*"malformed":\([0-9]*\).*/\1/p' "$T/gen.log")
[ "${bad:-0}" -gt 0 ] || fail "no malformed events generated"
valid=$(grep -cE '^\{"event_id".*"schema_version":[12],.*\}\}$' "$T/ev.jsonl" || true)
[ $((valid + bad)) -eq 3000 ] || fail "expected $valid valid + $bad malformed = 3000"

run() { # run WORKER ROLE GROUP [args]: drain the stream as ROLE
  local worker=$1 role=$2 group=$3
  shift 3
  "$BIN/$worker" --pg-dsn "$(as_role "$role")" --topics "$topics" --group "$group" --drain --log-level=error \
    --session-timeout-ms 6000 "$@"
}

# cs-audit as cs_worker_audit: every valid event logged once, every malformed one dead-lettered.
run cs-audit cs_worker_audit "cs-audit-t$$" 2>"$T/audit.err" || { cat "$T/audit.err"; fail "cs-audit as cs_worker_audit exited $?"; }
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$valid" ] || fail "expected $valid audit rows"
[ "$(q "SELECT count(*) FROM dead_letters WHERE consumer_group = 'cs-audit-t$$'")" -eq "$bad" ] \
  || fail "expected $bad dead letters of cs-audit-t$$ (COPY as the worker role)"
[ "$(q "SELECT count(*) FROM consumer_offsets WHERE consumer_group = 'cs-audit-t$$'")" -gt 0 ] || fail "no offsets committed"
"$BIN/cs-audit" verify --pg-dsn "$DSN" >"$T/v" || { cat "$T/v"; fail "verify failed"; }
echo "cs-audit as cs_worker_audit: ok ($valid logged, $bad dead-lettered)"

# A replay group of the same worker, from offset 0: works, appends nothing.
run cs-audit cs_worker_audit "cs-audit-replay-t$$" 2>"$T/replay.err" || { cat "$T/replay.err"; fail "replay group exited $?"; }
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$valid" ] || fail "the replay appended rows"
[ "$(q "SELECT count(*) FROM consumer_offsets WHERE consumer_group = 'cs-audit-replay-t$$'")" -gt 0 ] \
  || fail "the replay group committed no offsets"
echo "replay group cs-audit-replay-t$$: ok"

# cs-progress as cs_worker_progress: its processed ids, offsets and dead letters.
run cs-progress cs_worker_progress "cs-progress-t$$" 2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress as cs_worker_progress exited $?"; }
np=$(q "SELECT count(*) FROM processed_events WHERE consumer_group = 'cs-progress-t$$'")
nd=$(q "SELECT count(*) FROM dead_letters WHERE consumer_group = 'cs-progress-t$$'")
[ "$np" -gt 0 ] || fail "cs-progress marked no event processed"
[ "$nd" -ge "$bad" ] || fail "cs-progress dead-lettered $nd events, expected at least the $bad malformed"
[ "$(q "SELECT count(*) FROM user_progress")" -gt 0 ] || fail "cs-progress wrote no progress"
# No event was lost to a missing privilege of the role (42501 would be dead-lettered as 'database').
[ "$(q "SELECT count(*) FROM dead_letters WHERE sqlstate LIKE '42%'")" -eq 0 ] \
  || { q "SELECT consumer_group, sqlstate, reason FROM dead_letters WHERE sqlstate LIKE '42%' LIMIT 3"; fail "a worker role lacks a privilege"; }
echo "cs-progress as cs_worker_progress: ok ($np processed ids, $nd dead letters)"

# Each role sees only its own groups.
[ "$(q_as cs_worker_audit "SELECT count(*) FROM consumer_offsets WHERE consumer_group LIKE 'cs-progress%'")" -eq 0 ] \
  || fail "cs_worker_audit sees cs-progress's offsets"
[ "$(q_as cs_worker_audit "SELECT count(*) FROM processed_events WHERE consumer_group LIKE 'cs-progress%'")" -eq 0 ] \
  || fail "cs_worker_audit sees cs-progress's processed ids"
[ "$(q_as cs_worker_audit "SELECT count(*) FILTER (WHERE consumer_group NOT LIKE 'cs-audit-%') || '/' || count(*)
                             FROM worker_dead_letters")" = "0/$(q "SELECT count(*) FROM dead_letters WHERE consumer_group LIKE 'cs-audit-%'")" ] \
  || fail "cs_worker_audit does not read exactly its own groups' dead letters"
[ "$(q_as cs_worker_audit "DELETE FROM processed_events WHERE consumer_group = 'cs-progress-t$$' RETURNING 1" | wc -l)" -eq 0 ] \
  || fail "cs_worker_audit deleted cs-progress's processed ids"
[ "$(q "SELECT count(*) FROM processed_events WHERE consumer_group = 'cs-progress-t$$'")" -eq "$np" ] \
  || fail "cs-progress's processed ids changed"
if q_as cs_worker_progress "SELECT count(*) FROM dead_letters" >/dev/null 2>&1; then
  fail "cs_worker_progress reads the dead_letters table"
fi
[ "$(q_as cs_worker_progress "SELECT count(*) FROM worker_dead_letters")" -eq "$nd" ] \
  || fail "cs_worker_progress does not see exactly its own dead letters"
echo "isolation between the roles: ok"

# cs-audit as its role under a (new) group of cs-progress: refused at its first commit, nothing
# committed for that group.
foreign="cs-progress-foreign-t$$"
set +e
run cs-audit cs_worker_audit "$foreign" --log-level=warn 2>"$T/foreign.err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "cs-audit as cs_worker_audit ran under cs-progress's group $foreign"
# Refused by the policy on consumer_offsets or the owned-group check of dead_letters, whichever
# the batch reaches first: insufficient privilege (42501), permanent, so the worker stops.
grep -qE '"msg":"batch failed; stopping".*(row-level security policy for table|may not record dead letters of consumer group).*"sqlstate":"42501"' \
  "$T/foreign.err" || { tail -5 "$T/foreign.err"; fail "the refusal is not the ownership check (42501)"; }
[ "$(q "SELECT count(*) FROM consumer_offsets WHERE consumer_group = '$foreign'")" -eq 0 ] \
  || fail "the refused run committed offsets"
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$valid" ] || fail "the refused run wrote audit rows"
echo "a foreign group is refused: ok (exit $rc)"
echo "1 passed, 0 failed"
