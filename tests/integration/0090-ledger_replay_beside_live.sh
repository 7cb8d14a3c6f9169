#!/usr/bin/env bash
# tests/integration/0090-ledger_replay_beside_live.sh
#      The effect ledger belongs to the worker, not to a consumer group (issue 16, migration 0066):
#      processed_events is keyed by (effect_scope, event_id), the scope being the worker's name.
#      On the loopback broker, one cs-loadgen stream (malformed events included) is applied:
#       - B: by two cs-progress running side by side under two consumer groups of the same worker
#         (a live group and a replay group, both pipelined: the loser of a race redoes its batch
#         on the synchronous path, whose ledger insert waits for the winner) on the same topics
#         while cs-loadgen publishes at a rate, so that both deliver every event at about the
#         same moment and race for its ledger row; and a cs-replay job of the same worker,
#         started with them, racing them over the first part of the stream (its frozen end);
#       - A: by one cs-progress alone (the reference, in a database of its own), afterwards.
#      Then B's cs-progress tables equal A's row by row (every once-only effect applied once:
#      counters and appends would differ otherwise), B's ledger holds each valid event once (scope
#      'progress', the same ids as A), and a third group started after both finished applies
#      nothing (no ledger row of its own, the tables unchanged) while its offsets reach the end.
set -euo pipefail
BIN=${1:?usage: 0090-ledger_replay_beside_live.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DBA=t_ledger_a_$$
DBB=t_ledger_b_$$
ADMIN=$CS_PG_DSN
DSNA="${CS_PG_DSN%/*}/$DBA"
DSNB="${CS_PG_DSN%/*}/$DBB"
EVENTS=${CS_LEDGER_EVENTS:-6000}
MENTORS=50
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "$DBA" "$DBB"; do psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$1" -qAt -v ON_ERROR_STOP=1 -c "$2"; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # progress_state

for db in "$DBA" "$DBB"; do
  psql "$ADMIN" -qc "CREATE DATABASE $db TEMPLATE cs_template"
  # Coaching sessions and reviews reference mentors: the ones cs-loadgen names, as cs-seed derives them.
  q "${CS_PG_DSN%/*}/$db" "INSERT INTO mentor_profiles (mentor_id, display_name)
      SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m FROM generate_series(1, $MENTORS) m"
done

prefix="t.ledger.$$."
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile; do topics="$topics${topics:+,}$prefix$t"; done
# progress DSN GROUP LOG [options]; run with & it execs (the job is then cs-progress itself).
progress() {
  local dsn=$1 group=$2 log=$3 run=
  shift 3
  [ "$BASHPID" = "$$" ] || run=exec
  $run "$BIN/cs-progress" --pg-dsn "$dsn" --topics "$topics" --group "$group" --log-level=info \
    --session-timeout-ms 6000 --metrics-port -1 "$@" 2>"$log"
}
log_ok() {
  if grep -E '"level":"(fatal|error)"' "$1" >"$T/errors"; then head -n 5 "$T/errors" >&2; fail "$(basename "$1"): error lines"; fi
}
committed() { q "$DSNB" "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = '$1'"; }

# A first part of the stream creates the topics (the workers would wait for them otherwise).
"$BIN/cs-loadgen" --seed 91 --learners 400 --mentors $MENTORS --days 0 --events 500 --malformed 0.01 \
  --publish --topic-prefix "$prefix" 2>"$T/gen0.log" || { cat "$T/gen0.log"; fail "cs-loadgen"; }
TOTAL=$((EVENTS + 500))

# B: the live group and a replay group consume side by side while cs-loadgen publishes the rest
# at a rate, so that both see each event at about the same time.
progress "$DSNB" "cs-progress-live-$$" "$T/live.log" &
pl=$!; PIDS+=($pl)
progress "$DSNB" "cs-progress-replay-$$" "$T/replay.log" &
pr=$!; PIDS+=($pr)
# And a cs-replay job of the same worker at the same time (assign mode, a group of its own,
# cs-progress-live-$$-replay-<job>): its end frozen at the first part's 500 events, which it races
# the two groups for.
"$BIN/cs-replay" progress --pg-dsn "$DSNB" --topics "$topics" --group "cs-progress-live-$$" \
  --metrics-port -1 --log-level info --json >"$T/cs-replay.json" 2>"$T/cs-replay.log" &
crp=$!; PIDS+=($crp)
for i in $(seq 1 300); do
  grep -q '"partition assigned"' "$T/live.log" 2>/dev/null && grep -q '"partition assigned"' "$T/replay.log" 2>/dev/null && break
  sleep 0.1
done
"$BIN/cs-loadgen" --seed 90 --learners 400 --mentors $MENTORS --days 0 --events "$EVENTS" --malformed 0.01 \
  --rate "${CS_LEDGER_RATE:-1500}" --publish --topic-prefix "$prefix" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }
bad=$(sed -n 's/.*"msg":"done".*"malformed":\([0-9]*\).*/\1/p' "$T/gen.log")
echo "stream: 500 + $EVENTS events (${bad:-0} malformed in the second part) on ${prefix}*, the second part published while both groups consumed"
deadline=$((SECONDS + 120))
until [ "$(committed "cs-progress-live-$$")" -ge "$TOTAL" ] && [ "$(committed "cs-progress-replay-$$")" -ge "$TOTAL" ]; do
  [ $SECONDS -lt $deadline ] || fail "the groups did not consume the stream: live $(committed "cs-progress-live-$$"), replay $(committed "cs-progress-replay-$$")"
  kill -0 "$pl" 2>/dev/null || { tail -n 20 "$T/live.log" >&2; fail "the live group died"; }
  kill -0 "$pr" 2>/dev/null || { tail -n 20 "$T/replay.log" >&2; fail "the replay group died"; }
  sleep 0.3
done
kill -TERM "$pl" "$pr"
rc=0; wait "$pl" || rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$T/live.log" >&2; fail "live group exited $rc"; }
rc=0; wait "$pr" || rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$T/replay.log" >&2; fail "replay group exited $rc"; }
log_ok "$T/live.log"
log_ok "$T/replay.log"
rc=0; wait "$crp" || rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$T/cs-replay.log" >&2; fail "cs-replay exited $rc"; }
log_ok "$T/cs-replay.log"
job=$(q "$DSNB" "SELECT state || ' ' || events_read || ' ' || (applied + skipped_duplicate + dead_lettered) FROM replay_jobs")
[ "$job" = "done 500 500" ] || fail "the cs-replay job beside the groups: '$job' (expected: done, 500 read, 500 accounted for)"
echo "cs-replay beside the groups: $(q "$DSNB" "SELECT applied || ' applied first, ' || skipped_duplicate || ' duplicates, ' || dead_lettered || ' dead-lettered' FROM replay_jobs")"

# A: the reference, one group alone on the finished stream.
progress "$DSNA" "cs-progress-ref-$$" "$T/a.log" --drain || { tail -n 20 "$T/a.log" >&2; fail "reference run exited $?"; }
log_ok "$T/a.log"

progress_state "$DSNA" >"$T/state-a"
progress_state "$DSNB" >"$T/state-b"
[ "$(wc -l <"$T/state-a")" -gt 400 ] || fail "cs-progress wrote only $(wc -l <"$T/state-a") rows in A"
if ! cmp -s "$T/state-a" "$T/state-b"; then
  diff "$T/state-a" "$T/state-b" | head -n 10 | cut -c1-300 >&2
  fail "two groups side by side did not end where one group alone ends"
fi
echo "tables: equal ($(wc -l <"$T/state-a") rows)"

# The ledger: every valid event once, in the worker's scope, the same ids as A.
na=$(q "$DSNA" "SELECT count(*) FROM processed_events")
[ "$na" -gt 0 ] || fail "A marked no event processed"
n=$(q "$DSNB" "SELECT count(*) || ' ' || count(DISTINCT event_id) || ' ' || count(*) FILTER (WHERE effect_scope = 'progress') FROM processed_events")
[ "$n" = "$na $na $na" ] || fail "B's ledger holds '$n' (rows, distinct ids, in scope progress); A's $na"
q "$DSNA" "SELECT event_id FROM processed_events ORDER BY 1" >"$T/ids-a"
q "$DSNB" "SELECT event_id FROM processed_events ORDER BY 1" >"$T/ids-b"
cmp -s "$T/ids-a" "$T/ids-b" || fail "B's ledger ids differ from A's"
split=$(q "$DSNB" "SELECT string_agg(consumer_group || '=' || n, ' ' ORDER BY consumer_group)
                    FROM (SELECT consumer_group, count(*) n FROM processed_events GROUP BY 1) x")
echo "ledger: $na events once each (applied by: $split)"
# The race was run (else this test proved nothing): each group applied some events first, or the
# group that applied none met, in its pipelined commit, ids the other had marked after its
# optimistic pre-check (and redid those batches, finding them duplicates).
for g in live replay; do
  [ "$(q "$DSNB" "SELECT count(*) FROM processed_events WHERE consumer_group = 'cs-progress-$g-$$'")" -gt 0 ] \
    || grep -q 'met an event id applied' "$T/$g.log" \
    || fail "group $g applied nothing and never met an id the other group applied: the groups did not run side by side"
done
# Both groups consumed everything (their own offsets).
for g in live replay; do
  [ "$(q "$DSNB" "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = 'cs-progress-$g-$$'")" -eq "$TOTAL" ] \
    || fail "group cs-progress-$g-$$ did not consume the $TOTAL events"
done

# A group started after both finished: applies nothing once-only.
before=$(q "$DSNB" "SELECT count(*) FROM processed_events")
progress "$DSNB" "cs-progress-late-$$" "$T/late.log" --drain || { tail -n 20 "$T/late.log" >&2; fail "late group exited $?"; }
log_ok "$T/late.log"
[ "$(q "$DSNB" "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = 'cs-progress-late-$$'")" -eq "$TOTAL" ] \
  || fail "the late group did not consume the stream"
[ "$(q "$DSNB" "SELECT count(*) FROM processed_events")" -eq "$before" ] || fail "the late group added ledger rows"
[ "$(q "$DSNB" "SELECT count(*) FROM processed_events WHERE consumer_group = 'cs-progress-late-$$'")" -eq 0 ] \
  || fail "the late group applied events"
progress_state "$DSNB" >"$T/state-b2"
cmp -s "$T/state-a" "$T/state-b2" || { diff "$T/state-a" "$T/state-b2" | head -n 10 | cut -c1-300 >&2; fail "the late group changed the tables"; }
echo "late group: consumed $TOTAL events, applied none, tables unchanged"
echo "ok"
