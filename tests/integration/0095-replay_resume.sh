#!/usr/bin/env bash
# tests/integration/0095-replay_resume.sh
#      A replay is resumable and ends exactly where an uninterrupted one ends (issue 16,
#      cs-replay, migration 0071). On the real broker, one cs-loadgen stream (malformed events and
#      a repeated part, so that dead letters and duplicates are counted too) is replayed by
#      cs-replay progress:
#       - A: uninterrupted (the reference), in a database of its own;
#       - B: killed with kill -9 midway, then `cs-replay --resume JOB`;
#       - C: stopped with SIGINT midway (exit 3, state interrupted), then resumed.
#      Then B's and C's cs-progress tables equal A's row by row, their ledgers hold the same
#      event ids and outcomes, their dead letters the same events, and their jobs' counters
#      (read, applied, skipped as duplicates or erased, dead-lettered) equal A's exactly; read is
#      the number of offsets in the range (the high watermarks, from the broker); a done job
#      resumed does nothing; --list shows the states along the way.
set -euo pipefail
BIN=${1:?usage: 0095-replay_resume.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0095
DBS=(t_rres_a_$$ t_rres_b_$$ t_rres_c_$$)
DSNA=$(it_dsn "${DBS[0]}") DSNB=$(it_dsn "${DBS[1]}") DSNC=$(it_dsn "${DBS[2]}")
EVENTS=${CS_REPLAY_EVENTS:-8000}
MENTORS=50
cleanup() {
  it_kill_pids
  it_db_drop
  rm -rf "$T"
}
trap cleanup EXIT
it_db "${DBS[@]}"

prefix="t.rres.$$."
topics=$(progress_topics "$prefix")
gen() {
  "$BIN/cs-loadgen" --learners 300 --mentors $MENTORS --days 0 --malformed 0.01 --publish \
    --topic-prefix "$prefix" "$@" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }
}
gen --seed 95 --events "$EVENTS"
gen --seed 95 --events 1000 # the same first 1,000 events again: duplicates
high=0
for t in ${topics//,/ }; do
  n=$("$ROOT/scripts/kafka" tool get-offsets --topic "$t" --time -1 2>/dev/null | awk -F: '{s += $NF} END {print s + 0}')
  high=$((high + n))
done
[ "$high" -eq $((EVENTS + 1000)) ] || fail "the broker holds $high offsets, expected $((EVENTS + 1000))"

# replay DSN LOG [options]: cs-replay progress over the test's topics.
replay() {
  local dsn=$1 log=$2 run=
  shift 2
  [ "$BASHPID" = "$$" ] || run=exec
  $run "$BIN/cs-replay" progress --pg-dsn "$dsn" --topics "$topics" --log-level=info \
    --metrics-port -1 --json --progress-interval 1 "$@" 2>"$log"
}
job_of() { q "$1" "SELECT max(job_id) FROM replay_jobs"; }
done_offsets() { # offsets the job's group has committed beyond its starts
  q "$1" "SELECT coalesce(sum(o.next_offset - p.start_offset), 0) FROM replay_jobs j
           JOIN replay_job_partitions p USING (job_id)
           JOIN consumer_offsets o ON o.consumer_group = j.consumer_group AND o.topic = p.topic
            AND o.kafka_partition = p.kafka_partition WHERE j.job_id = $2"
}
counters() { q "$1" "SELECT state, events_read, applied, skipped_duplicate, skipped_erased, dead_lettered FROM replay_jobs WHERE job_id = $2"; }

# A: uninterrupted.
replay "$DSNA" "$T/a.log" >"$T/a.json" || { tail -n 20 "$T/a.log" >&2; fail "replay A exited $?"; }
log_ok "$T/a.log"
ja=$(job_of "$DSNA")
ca=$(counters "$DSNA" "$ja")
echo "A: job $ja: $ca"
IFS='|' read -r st read applied dup erased dead <<<"$ca"
[ "$st" = done ] || fail "A's job is $st"
[ "$read" -eq "$high" ] || fail "A read $read events; the range holds $high"
[ $((applied + dup + erased + dead)) -eq "$read" ] || fail "A's counters do not add up: $ca"
[ "$dup" -ge 900 ] || fail "A skipped only $dup duplicates (1,000 events were published twice)"
[ "$dead" -gt 0 ] || fail "A dead-lettered nothing (the stream has malformed events)"
[ "$(q "$DSNA" "SELECT count(*) FROM processed_events")" -eq $((applied + erased)) ] \
  || fail "A's ledger does not hold the $applied applied and $erased erased events"
grep -q "\"job\":$ja,.*\"state\":\"done\",\"read\":$read," "$T/a.json" || { cat "$T/a.json" >&2; fail "A's report"; }

# interrupt DSN LOG SIGNAL: a replay stopped by SIGNAL once a part of the range is committed.
interrupt() {
  local dsn=$1 log=$2 sig=$3 p rc=0
  replay "$dsn" "$log" --batch-size 50 >"$log.out" &
  p=$!; PIDS+=($p)
  local deadline=$((SECONDS + 60)) j=""
  while :; do
    [ $SECONDS -lt $deadline ] || fail "the replay in $dsn made no progress"
    kill -0 "$p" 2>/dev/null || { tail -n 20 "$log" >&2; fail "the replay in $dsn ended before it was interrupted"; }
    j=$(job_of "$dsn")
    if [ -n "$j" ] && [ "$(done_offsets "$dsn" "$j")" -ge $((high / 4)) ]; then break; fi
    sleep 0.1
  done
  kill "-$sig" "$p"
  wait "$p" || rc=$?
  IRC=$rc
}

# B: kill -9 midway, then --resume.
interrupt "$DSNB" "$T/b.log" KILL; rc=$IRC
jb=$(job_of "$DSNB")
[ "$rc" -eq 137 ] || fail "the killed replay exited $rc"
mid=$(done_offsets "$DSNB" "$jb")
[ "$mid" -lt "$high" ] || fail "the replay was killed after its end ($mid of $high)"
"$BIN/cs-replay" --list --pg-dsn "$DSNB" >"$T/list-b1"
grep -Eq "^$jb +progress +running " "$T/list-b1" || { cat "$T/list-b1" >&2; fail "--list does not show job $jb running after kill -9"; }
echo "B: job $jb killed at $mid of $high offsets"
"$BIN/cs-replay" --resume "$jb" --pg-dsn "$DSNB" --metrics-port -1 --log-level=info --json \
  >"$T/b2.json" 2>"$T/b2.log" || { tail -n 20 "$T/b2.log" >&2; fail "resume of B exited $?"; }
log_ok "$T/b2.log"
grep -q '"state":"done"' "$T/b2.json" || { cat "$T/b2.json" >&2; fail "B's resumed report"; }

# C: SIGINT midway (exit 3, interrupted), then --resume.
interrupt "$DSNC" "$T/c.log" INT; rc=$IRC
jc=$(job_of "$DSNC")
[ "$rc" -eq 3 ] || { tail -n 20 "$T/c.log" >&2; fail "the interrupted replay exited $rc, not 3"; }
log_ok "$T/c.log"
[ "$(q "$DSNC" "SELECT state FROM replay_jobs WHERE job_id = $jc")" = interrupted ] || fail "C's job is not interrupted"
grep -q '"state":"interrupted"' "$T/c.log.out" || { cat "$T/c.log.out" >&2; fail "C's report does not say interrupted"; }
"$BIN/cs-replay" --list --pg-dsn "$DSNC" >"$T/list-c1"
grep -Eq "^$jc +progress +interrupted " "$T/list-c1" || { cat "$T/list-c1" >&2; fail "--list does not show job $jc interrupted"; }
echo "C: job $jc interrupted at $(done_offsets "$DSNC" "$jc") of $high offsets"
"$BIN/cs-replay" --resume "$jc" --pg-dsn "$DSNC" --metrics-port -1 --log-level=info \
  >"$T/c2.out" 2>"$T/c2.log" || { tail -n 20 "$T/c2.log" >&2; fail "resume of C exited $?"; }
log_ok "$T/c2.log"

# Everything equal to A.
progress_state "$DSNA" >"$T/state-a"
[ "$(wc -l <"$T/state-a")" -gt 400 ] || fail "the replay wrote only $(wc -l <"$T/state-a") rows in A"
q "$DSNA" "SELECT event_id, outcome, effect_scope FROM processed_events ORDER BY 1" >"$T/ledger-a"
q "$DSNA" "SELECT topic, kafka_partition, kafka_offset FROM dead_letters ORDER BY 1, 2, 3" >"$T/dead-a"
same_as_a() {
  local name=$1 d=$2 j=$3 c
  progress_state "$d" >"$T/state-$name"
  cmp -s "$T/state-a" "$T/state-$name" || { diff "$T/state-a" "$T/state-$name" | head -n 10 | cut -c1-300 >&2; fail "$name's tables differ from A's"; }
  q "$d" "SELECT event_id, outcome, effect_scope FROM processed_events ORDER BY 1" >"$T/ledger-$name"
  cmp -s "$T/ledger-a" "$T/ledger-$name" || fail "$name's ledger differs from A's"
  q "$d" "SELECT topic, kafka_partition, kafka_offset FROM dead_letters ORDER BY 1, 2, 3" >"$T/dead-$name"
  cmp -s "$T/dead-a" "$T/dead-$name" || fail "$name's dead letters differ from A's"
  c=$(counters "$d" "$j")
  [ "$c" = "$ca" ] || fail "$name's job counters '$c' differ from A's '$ca'"
  echo "$name: job $j resumed: tables ($(wc -l <"$T/state-a") rows), ledger, dead letters and counters equal to A's"
}
same_as_a B "$DSNB" "$jb"
same_as_a C "$DSNC" "$jc"

# A done job resumed does nothing.
before=$(q "$DSNB" "SELECT updated_at, finished_at FROM replay_jobs WHERE job_id = $jb")
"$BIN/cs-replay" --resume "$jb" --pg-dsn "$DSNB" --metrics-port -1 >"$T/b3.out" 2>"$T/b3.log" || fail "resuming a done job exited $?"
grep -q "is done: nothing to resume" "$T/b3.log" || { cat "$T/b3.log" >&2; fail "resuming a done job did not say so"; }
[ "$(q "$DSNB" "SELECT updated_at, finished_at FROM replay_jobs WHERE job_id = $jb")" = "$before" ] || fail "resuming a done job changed it"
"$BIN/cs-replay" --list --pg-dsn "$DSNB" >"$T/list-b2"
grep -Eq "^$jb +progress +done +100% " "$T/list-b2" || { cat "$T/list-b2" >&2; fail "--list does not show job $jb done"; }
# Errors named: a job that does not exist, a job of another worker.
rc=0; "$BIN/cs-replay" --resume 999999 --pg-dsn "$DSNB" 2>"$T/e1" || rc=$?
[ "$rc" -eq 2 ] && grep -q "replay job 999999 does not exist" "$T/e1" || { cat "$T/e1" >&2; fail "an unknown job (exit $rc)"; }
rc=0; "$BIN/cs-audit" replay --resume "$jb" --pg-dsn "$DSNB" --metrics-port -1 2>"$T/e2" || rc=$?
[ "$rc" -eq 2 ] && grep -q "replays cs-progress, not cs-audit" "$T/e2" || { cat "$T/e2" >&2; fail "a job of another worker (exit $rc)"; }
echo "ok"
