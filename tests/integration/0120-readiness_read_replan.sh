#!/usr/bin/env bash
# tests/integration/0120-readiness_read_replan.sh
#      cs-readiness makes its read's plan again as the score table fills (workers/readiness.c,
#      REPLAN_FIRST): started on an analyzed, empty career_readiness_scores (a new installation),
#      its session's generic plan of career_readiness_inputs_fp hashes a sequential scan of that
#      table on every call; planned again at 1,000, 2,000, 4,000 ... first scores, it probes the
#      table by key. Checked through the table's sequential scans (pg_stat_user_tables) during a
#      drain of many small batches: fewer than half the reads (a worker that keeps its first plan
#      scans the table on every read), and the worker's count of re-plans.
set -euo pipefail
BIN=${1:?usage: 0120-readiness_read_replan.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0120
DB=t_rreplan_$$
DSN=$(it_dsn "$DB")
MENTORS=30 # cs-loadgen's --mentors below
cleanup() { it_db_drop; rm -rf "$T"; }
trap cleanup EXIT
field() { grep '"readiness totals"' "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }

it_db "$DB"
P="t.rreplan.$$."
topics=$(progress_topics "$P")
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 6000 --mentors 30 --events 12000 --days 0 --seed 5 \
  --log-level warn || fail "cs-loadgen"
run() { "$@" --pg-dsn "$DSN" --topics "$topics" --drain --metrics-port -1 --session-timeout-ms 6000; }
run "$BIN/cs-progress" --group "p.$$" --log-level warn 2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress"; }
q "$DSN" "ANALYZE" # career_readiness_scores analyzed empty: the planner takes it at its word
[ "$(q "$DSN" "SELECT reltuples FROM pg_class WHERE relname = 'career_readiness_scores'")" = 0 ] || fail "scores not analyzed empty"
seqscans() { q "$DSN" "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'career_readiness_scores'"; }
s0=$(seqscans)

# Small batches, so that many reads follow the first re-plan.
run "$BIN/cs-readiness" --group "r.$$" --derived-topic "${P}cs.derived" --batch-size 400 --batch-ms 50 \
  --batch-linger=false --log-level debug 2>"$T/r.err" || { tail -20 "$T/r.err"; fail "cs-readiness"; }
n=$(q "$DSN" "SELECT count(*) FROM career_readiness_scores")
first=$(field "$T/r.err" first_scores) replans=$(field "$T/r.err" read_replans) reads=$(field "$T/r.err" batches)
[ "$n" -ge 1500 ] || fail "only $n learners scored (the stream must give more than 1,000 first scores)"
[ "$first" -ge "$n" ] || fail "first_scores $first below the $n scores stored"
[ "$replans" -ge 1 ] || fail "no re-plan after $first first scores"
# the read_replans count: one at 1,000, 2,000, 4,000 ... first scores
want=0 at=1000
while [ "$at" -le "$first" ]; do want=$((want + 1)); at=$((at * 2)); done
[ "$replans" -le "$want" ] || fail "$replans re-plans for $first first scores (at most $want)"
logged=$(grep -c '"readiness read re-planned"' "$T/r.err" || true)
[ "$logged" -eq "$replans" ] || fail "$logged re-plan log lines, $replans counted"
scans=$(($(seqscans) - s0))
[ "$reads" -ge 20 ] || fail "only $reads reads: too few to tell"
[ "$scans" -lt $((reads / 2)) ] || fail "$scans sequential scans of career_readiness_scores in $reads reads"
echo "ok: $n scores, $reads reads, $replans re-plans, $scans sequential scans of the score table"
