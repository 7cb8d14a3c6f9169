#!/usr/bin/env bash
# tests/integration/0127-readiness_read_ahead.sh
#      cs-readiness's read-ahead (the runtime's batch_read): the inputs of the next batch are read
#      while the batches before it are prepared and committed, so the read may miss both of them;
#      what they decided must overlay it. A stream of few learners (every learner in nearly every
#      batch of 1,000 events), then a second stream for them, are drained in two copies of one
#      cs-progress state: pipelined, where most batches are read ahead (the worker's totals say
#      how many), and without read-ahead (the first stream with --pipeline=false: each batch read
#      after the one before committed; the second with --read-ahead=false: pipelined, each batch
#      read while the one before commits). Both must store the same final scores, dimensions, stages and explanations
#      (each drain scores what cs-progress left); and in the read-ahead run every
#      learner's history must chain: one first emission, each row's previous_score the score of
#      the last emitted row before it, the stored emitted score the last emitted one, every
#      emitted row published once.
set -euo pipefail
BIN=${1:?usage: 0127-readiness_read_ahead.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0127
DB=t_rahead_$$
DB2=t_rahead2_$$
DSN=$(it_dsn "$DB")
DSN2=$(it_dsn "$DB2")
MENTORS=30 # cs-loadgen's --mentors below
cleanup() {
  it_db_drop
  psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB2 WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
msgs() { kcat -C -b "$CS_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l; }

it_db "$DB"
P="t.rahead.$$."
topics=$(progress_topics "$P")
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 300 --mentors 30 --events 30000 --days 0 \
  --seed 11 --log-level warn || fail "cs-loadgen"
run() { "$@" --topics "$topics" --drain --metrics-port -1 --session-timeout-ms 6000; }
run "$BIN/cs-progress" --pg-dsn "$DSN" --group "p.$$" --log-level warn 2>"$T/progress.err" \
  || { cat "$T/progress.err"; fail "cs-progress"; }
psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB2 TEMPLATE $DB"

# Two streams for the same learners, each drained by cs-progress then cs-readiness in both
# databases: pipelined with read-ahead (the default) in $DB, without it in $DB2.
readiness() { # $1 stream number, then options of the run without read-ahead
  run "$BIN/cs-readiness" --pg-dsn "$DSN" --group "r.$$" --derived-topic "${P}derived" \
    --batch-size 1000 --log-level info 2>"$T/r1.$1.err" || { cat "$T/r1.$1.err"; fail "cs-readiness"; }
  grep -q '"level":"warn"' "$T/r1.$1.err" && { grep '"level":"warn"' "$T/r1.$1.err"; fail "cs-readiness warned"; }
  totals=$(grep '"readiness totals"' "$T/r1.$1.err") || fail "no readiness totals logged"
  ahead=$(sed -E 's/.*"batches_read_ahead":([0-9]+).*/\1/' <<<"$totals")
  batches=$(sed -E 's/.*"batches":([0-9]+).*/\1/' <<<"$totals")
  [ "$ahead" -ge $((batches / 2)) ] || fail "stream $1: only $ahead of $batches batches were read ahead"
  local n=$1
  shift
  run "$BIN/cs-readiness" --pg-dsn "$DSN2" --group "r2.$$" --derived-topic "${P}derived2" \
    --batch-size 1000 --log-level info "$@" 2>"$T/r2.$n.err" || { cat "$T/r2.$n.err"; fail "cs-readiness $*"; }
  grep -q '"batches_read_ahead":0' "$T/r2.$n.err" || fail "$* read ahead"
}
readiness 1 --pipeline=false
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 300 --mentors 30 --events 10000 --days 0 \
  --seed 12 --log-level warn || fail "cs-loadgen (second stream)"
for d in "$DSN" "$DSN2"; do
  run "$BIN/cs-progress" --pg-dsn "$d" --group "p.$$" --log-level warn 2>"$T/progress2.err" \
    || { cat "$T/progress2.err"; fail "cs-progress (second stream)"; }
done
readiness 2 --read-ahead=false

# The same final state: scores, dimensions, stages, explanations (as of each learner's inputs; not
# inputs_fp, which names row versions: each copy's cs-progress wrote its own).
final() {
  q "$1" "SELECT count(*) || ' ' || md5(string_agg(concat_ws(',', user_id, score, skills, portfolio, interview,
            learning, job_search, mentoring, stage, explanation::text), '|' ORDER BY user_id))
          FROM career_readiness_scores"
}
f1=$(final "$DSN")
f2=$(final "$DSN2")
[ "${f1%% *}" -ge 250 ] || fail "only ${f1%% *} learners scored"
[ "$f1" = "$f2" ] || fail "read ahead, the final scores differ from those read without it ($f1 / $f2)"

# The read-ahead run's emission chain, per learner in commit order (the rows' transaction ids: the
# batches commit one after the other; computed_at is the trigger event's time).
chain=$(q "$DSN" "WITH h0 AS (SELECT *, xmin::text::bigint AS tx FROM career_readiness_history),
           h AS (SELECT user_id, previous_score,
                        (SELECT e.score FROM h0 e WHERE e.user_id = h0.user_id AND e.emitted AND e.tx < h0.tx
                          ORDER BY e.tx DESC LIMIT 1) AS before,
                        count(*) FILTER (WHERE emitted AND previous_score IS NULL) OVER (PARTITION BY user_id) AS firsts
                   FROM h0)
           SELECT count(*) || ' ' || count(*) FILTER (WHERE previous_score IS DISTINCT FROM before)
                  || ' ' || count(*) FILTER (WHERE firsts <> 1)
             FROM h")
read -r rows broken firsts <<<"$chain"
[ "$rows" -gt "${f1%% *}" ] || fail "too few history rows to check ($rows rows, ${f1%% *} learners)"
[ "$broken" -eq 0 ] || fail "$broken history rows do not name the last emitted score as their previous one"
[ "$firsts" -eq 0 ] || fail "$firsts history rows belong to learners without exactly one first emission"
[ "$(q "$DSN" "SELECT count(*) FROM career_readiness_scores s WHERE emitted_score IS DISTINCT FROM
        (SELECT h.score FROM career_readiness_history h WHERE h.user_id = s.user_id AND h.emitted
          ORDER BY h.xmin::text::bigint DESC LIMIT 1)")" -eq 0 ] || fail "a stored emitted score is not the last emitted one"
emitted=$(q "$DSN" "SELECT count(*) FROM career_readiness_history WHERE emitted")
[ "$(q "$DSN" "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "the outbox is not empty"
[ "$(msgs "${P}derived")" -eq "$emitted" ] || fail "derived topic holds $(msgs "${P}derived") events, $emitted emitted"
echo "ok: $ahead of $batches batches of the second stream read ahead; ${f1%% *} learners' scores as without the pipeline; $rows history rows chained, $emitted events"
