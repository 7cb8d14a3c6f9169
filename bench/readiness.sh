#!/usr/bin/env bash
# bench/readiness.sh - cs-readiness alone: how fast it recomputes what cs-progress committed.
#
#   bench/readiness.sh [--events N] [--learners L] [--runs R] [--bin DIR] [--compare DIR]
#                      [-- cs-readiness options]
#
# On its own throwaway Apache Kafka (scripts/kafka in .run/bench-readiness/kafka, fresh each run)
# and a database of the throwaway PostgreSQL cluster (scripts/devdb):
#  1. publishes N events (default 200,000) of L learners (default 20,000) from cs-loadgen
#     (--days 0 --seed 7) to the real topics;
#  2. R times (default 3): a fresh database from the migrated and seeded template, cs-progress
#     --drain, ANALYZE (figures must not depend on when autovacuum's statistics arrive), then
#     cs-readiness --drain under a fresh consumer group, timed;
#  3. prints per run the seconds, events/s, learner recomputations/s (the worker's learners_scored
#     total: a learner counts once per batch that touches it), distinct learners scored/s, and
#     the medians. Arguments after -- go to cs-readiness (e.g. --batch-size 20000).
# --compare DIR: a before/after comparison on a loaded machine. Each run also times DIR's
#     cs-readiness (the "before": e.g. a build of another commit; its SQL functions are the
#     template's, migrated by --bin's cs-migrate) on a copy of the same database taken after
#     cs-progress, the two alternating which goes first; the results and medians are printed
#     per binary (column "bin": a is --bin, b is DIR).
# Builds nothing: --bin (default build/bin) must hold a build (a Release build gives the best
# figures). Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
EVENTS=200000
LEARNERS=20000
RUNS=3
BIN=$ROOT/build/bin
CMP=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --learners) LEARNERS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --bin) BIN=$(cd "$2" && pwd); shift 2 ;;
    --compare) CMP=$(cd "$2" && pwd); shift 2 ;;
    --) shift; break ;;
    *) echo "usage: bench/readiness.sh [--events N] [--learners L] [--runs R] [--bin DIR] [--compare DIR] [-- cs-readiness options]" >&2; exit 2 ;;
  esac
done
for p in cs-migrate cs-seed cs-loadgen cs-progress cs-readiness; do
  [ -x "$BIN/$p" ] || { echo "bench/readiness.sh: $BIN/$p missing (build first)" >&2; exit 2; }
done
[ -z "$CMP" ] || [ -x "$CMP/cs-readiness" ] || { echo "bench/readiness.sh: $CMP/cs-readiness missing" >&2; exit 2; }

RUN=$ROOT/.run/bench-readiness
mkdir -p "$RUN"
started_db=0
export CS_KAFKA_DIR=$RUN/kafka
cleanup() {
  CS_KAFKA_DIR=$RUN/kafka scripts/kafka destroy >/dev/null 2>&1 || true
  [ -n "${ADMIN:-}" ] && psql "$ADMIN" -qc "DROP DATABASE IF EXISTS bench_rd_tpl WITH (FORCE)" >/dev/null 2>&1
  [ "$started_db" = 1 ] && scripts/devdb stop
  true
}
trap cleanup EXIT
scripts/devdb status >/dev/null 2>&1 || started_db=1
ADMIN=$(scripts/devdb start)
BASE=${ADMIN%/*}
scripts/kafka destroy >/dev/null 2>&1 || true
BROKERS=$(scripts/kafka start)
export CS_KAFKA_BROKERS=$BROKERS CS_LOG_LEVEL=warn

psqla() { psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 "$@"; }
psqla -c "DROP DATABASE IF EXISTS bench_rd_tpl WITH (FORCE)" -c "CREATE DATABASE bench_rd_tpl"
"$BIN/cs-migrate" --pg-dsn "$BASE/bench_rd_tpl" >/dev/null
"$BIN/cs-seed" --pg-dsn "$BASE/bench_rd_tpl" >/dev/null
"$BIN/cs-loadgen" --publish --learners "$LEARNERS" --events "$EVENTS" --days 0 --seed 7 \
  --log-level warn 2>"$RUN/loadgen.log"

TOPICS=cs.learning,cs.mentoring,cs.jobsearch,cs.portfolio,cs.profile
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
: >"$RUN/results"
for r in $(seq 1 "$RUNS"); do
  DB=bench_rd_$r
  psqla -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB TEMPLATE bench_rd_tpl"
  DSN=$BASE/$DB
  "$BIN/cs-progress" --pg-dsn "$DSN" --topics "$TOPICS" --group "bp.$$.$r" --drain \
    --metrics-port -1 --log-level warn 2>"$RUN/progress.$r.log"
  psql "$DSN" -qc "ANALYZE" -c "CHECKPOINT"
  order=a
  if [ -n "$CMP" ]; then
    # Both on copies: timed on the database cs-progress just wrote, a drain ran slower than on
    # a copy of it (whichever binary), which biased the comparison.
    for w in a b; do
      psqla -c "DROP DATABASE IF EXISTS $DB$w WITH (FORCE)" -c "CREATE DATABASE $DB$w TEMPLATE $DB"
    done
    order=$([ $((r % 2)) = 1 ] && echo "a b" || echo "b a")
  fi
  for w in $order; do
    if [ "$w" = a ]; then wbin=$BIN wdb=$DB; else wbin=$CMP wdb=${DB}b; fi
    [ -z "$CMP" ] || wdb=$DB$w
    t0=$(now)
    "$wbin/cs-readiness" --pg-dsn "$BASE/$wdb" --topics "$TOPICS" --group "br.$$.$r$w" --drain \
      --metrics-port -1 --log-level info --derived-topic "bench.rd.$$.$r$w" "$@" 2>"$RUN/readiness.$r$w.log"
    t1=$(now)
    scored=$(grep -o '"learners_scored":[0-9]*' "$RUN/readiness.$r$w.log" | tail -1 | cut -d: -f2)
    distinct=$(psql "$BASE/$wdb" -qAt -c "SELECT count(readiness_score) FROM career_transformation_progress")
    awk -v t0="$t0" -v t1="$t1" -v n="$EVENTS" -v s="${scored:-0}" -v d="$distinct" -v r="$r" -v w="$w" 'BEGIN {
      t = t1 - t0; printf "%s %.2f %.0f %.0f %.0f %d %d %s\n", r, t, n / t, s / t, d / t, s, d, w }' | tee -a "$RUN/results"
  done
  psqla -c "DROP DATABASE $DB WITH (FORCE)"
  [ -z "$CMP" ] || psqla -c "DROP DATABASE ${DB}a WITH (FORCE)" -c "DROP DATABASE ${DB}b WITH (FORCE)"
done
echo "run seconds events/s recomputations/s distinct_learners/s recomputations distinct bin"
for w in a $([ -n "$CMP" ] && echo b); do
  grep " $w\$" "$RUN/results" >"$RUN/results.$w"
  printf 'median%s: %ss %s events/s %s recomputations/s %s distinct learners/s (%s runs, %s events, %s learners)\n' \
    "$([ -n "$CMP" ] && echo " $w ($([ "$w" = a ] && echo "$BIN" || echo "$CMP"))")" \
    "$(cut -d' ' -f2 "$RUN/results.$w" | median)" "$(cut -d' ' -f3 "$RUN/results.$w" | median)" \
    "$(cut -d' ' -f4 "$RUN/results.$w" | median)" "$(cut -d' ' -f5 "$RUN/results.$w" | median)" "$RUNS" "$EVENTS" "$LEARNERS"
done
