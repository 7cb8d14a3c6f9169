#!/usr/bin/env bash
# bench/readiness.sh - cs-readiness alone: how fast, and at what CPU, it recomputes what
# cs-progress committed.
#
#   bench/readiness.sh [--events N] [--learners L] [--seed S] [--million] [--runs R] [--bin DIR]
#                      [--compare DIR] [--compare-sql FILE] [--keep-db NAME] [--warm-drain]
#                      [--members N] [--assignment-strategy S] [--hold-relay] [--as-role] [-- cs-readiness options]
#
# On its own throwaway Apache Kafka (scripts/kafka in .run/bench-readiness/kafka, fresh each run)
# and a database of the throwaway PostgreSQL cluster (scripts/devdb):
#  0. creates the contract's topics and, as an operator would, every drain's derived topic
#     (bench.rd.<pid>.<tag>, one per drain so the drains' events stay apart) with cs.derived's
#     partitions and retention from schemas/topics.json, when the broker starts: no drain pays the
#     topic's auto-creation (the broker's own, 4 partitions, during which its relay's first
#     produce waits for the topic's metadata);
#  1. publishes N events (default 200,000) of L learners (default 20,000) from cs-loadgen
#     (--days 0 --seed S, default 7) to the real topics; --million is the pipeline benchmark's
#     stream (bench/pipeline.sh: 1,000,000 events, 10,000 learners, seed 2026);
#  2. once: a database from the migrated and seeded template, cs-progress --drain (its time and
#     CPU are printed: a change of cs-progress shows there), ANALYZE (figures must not depend on
#     when autovacuum's statistics arrive), CHECKPOINT;
#  3. R times (default 3): cs-readiness --drain under a fresh consumer group on a fresh copy of
#     that database, timed;
#  4. prints per run the seconds, events/s, learner recomputations/s (the worker's learners_scored
#     total: a learner counts once per batch that touches it), distinct learners scored/s, the
#     recomputations and distinct learners, the CPU seconds (user + system) of the worker, of
#     its PostgreSQL backends (polled in /proc every 0.2 s) and of the broker while it drained,
#     their sum per event in microseconds, and the worker's peak RSS in MiB; then the medians. On a machine shared with other work
#     wall time is noisy; CPU seconds much less so. Arguments after -- go to cs-readiness
#     (e.g. --batch-size 20000);
#  5. per run, the parts (the "parts" lines, also in .run/bench-readiness/parts.<run>): the CPU
#     seconds of each PostgreSQL backend by its application_name (cs-readiness: the committer,
#     cs-readiness-inputs: the read, cs-readiness-outbox: the relay) and of the worker's threads
#     by name (polled in /proc every 0.2 s, the last sample of each; cs-outbox is the relay's
#     thread, relay_rdk:* the librdkafka threads started after it: its producer's), the outbox rows
#     left pending after the drain, and the broker's threads by kind between the drain's start and
#     end (JVM thread names without digits and blanks, as /proc cuts them: data-plane-kafk the
#     request handlers and network threads, CCompilerThre the JIT's compilers, ...).
# --compare DIR: a before/after comparison on a loaded machine. Each run also times DIR's
#     cs-readiness (the "before": e.g. a build of another commit; its SQL functions are the
#     template's, migrated by --bin's cs-migrate) on its own copy of the same database, the two
#     alternating which goes first; the results and medians are printed per binary (column "bin":
#     a is --bin, b is DIR).
# --compare-sql FILE: SQL run on each copy of DIR's runs before its drain (not timed), e.g. to put
#     back the schema of the commit DIR was built from when a migration changed what it writes.
# --keep-db NAME: keep the database as cs-progress left it (after ANALYZE) under NAME, replacing
#     any database of that name, for EXPLAIN or a comparison of the read's SQL (the cluster keeps
#     running if this script started it).
# --warm-drain: before the timed runs, one cs-readiness drain (--bin's) on its own copy of the
#     database, untimed and not in the results: the broker is a fresh JVM, and the first drain that
#     reads and produces through it also pays its JIT compiling those paths (1.8-3.4 s of the
#     broker's compiler threads in session 15's measurements, against 0.1-0.9 s in later drains),
#     which a long-running production broker has done long before. Without it, the first run
#     (and with --compare the binary that goes first) carries that cost.
# --members N: each drain runs N cs-readiness processes in one consumer group (scale-out: the
#     topics' partitions are divided among them), started together; the drain's time runs from
#     their start to the last one's exit, CPU and recomputations are their sums, RSS the largest.
#     --assignment-strategy S is passed to each (roundrobin gives every member the same residues of
#     every topic, so all of a learner's events reach one member: docs/operations.md).
# --hold-relay: during each timed drain a psql session holds the group's relay lock (the session
#     advisory lock the relays of a group take, docs/runtime.md), so the relay stands by and the
#     derived events stay in outbox_events: the drain without the relay's publishing (its standby
#     still tries the lock after each batch). A measurement, not a production setting.
# --as-role: every cs-readiness runs as its worker role, cs_worker_readiness (SET through the DSN's
#     options, as test 0077 does), in a group the role owns (cs-readiness-br.<pid>.<tag>), and
#     step 2's cs-progress as cs_worker_progress (group cs-progress-bp.<pid>): the
#     row-level security of consumer_offsets, processed_events and career_readiness_scores applies
#     as in a deployment (where it makes the first scores staged, not COPYd in: docs/runtime.md);
#     without it the worker connects as the cluster's superuser, which bypasses it.
# Builds nothing: --bin (default build/bin) must hold a build (a Release build gives the best
# figures). Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
EVENTS=200000
LEARNERS=20000
SEED=7
RUNS=3
BIN=$ROOT/build/bin
CMP=
CMPSQL=
KEEP=
WARM_DRAIN=0
MEMBERS=1
STRATEGY=
HOLD_RELAY=0
GP=br   # the drains' group prefix
DSNOPT= # appended to each cs-readiness's database URL
PGP=bp  # cs-progress's group prefix, and its URL's options
PDSNOPT=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --learners) LEARNERS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --million) EVENTS=1000000 LEARNERS=10000 SEED=2026; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --bin) BIN=$(cd "$2" && pwd); shift 2 ;;
    --compare) CMP=$(cd "$2" && pwd); shift 2 ;;
    --compare-sql) CMPSQL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --keep-db) KEEP=$2; shift 2 ;;
    --warm-drain) WARM_DRAIN=1; shift ;;
    --members) MEMBERS=$2; shift 2 ;;
    --assignment-strategy) STRATEGY=$2; shift 2 ;;
    --hold-relay) HOLD_RELAY=1; shift ;;
    --as-role)
      GP=cs-readiness-br DSNOPT='?options=-c%20role%3Dcs_worker_readiness'
      PGP=cs-progress-bp PDSNOPT='?options=-c%20role%3Dcs_worker_progress'
      shift ;;
    --) shift; break ;;
    *) echo "usage: bench/readiness.sh [--events N] [--learners L] [--seed S] [--million] [--runs R] [--bin DIR] [--compare DIR] [--compare-sql FILE] [--keep-db NAME] [--warm-drain] [--members N] [--assignment-strategy S] [--hold-relay] [--as-role] [-- cs-readiness options]" >&2; exit 2 ;;
  esac
done
for p in cs-migrate cs-seed cs-loadgen cs-progress cs-readiness; do
  [ -x "$BIN/$p" ] || { echo "bench/readiness.sh: $BIN/$p missing (build first)" >&2; exit 2; }
done
[ -z "$CMP" ] || [ -x "$CMP/cs-readiness" ] || { echo "bench/readiness.sh: $CMP/cs-readiness missing" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/readiness.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }

RUN=$ROOT/.run/bench-readiness
mkdir -p "$RUN"
started_db=0
export CS_KAFKA_DIR=$RUN/kafka
cleanup() {
  CS_KAFKA_DIR=$RUN/kafka scripts/kafka destroy >/dev/null 2>&1 || true
  [ -n "${ADMIN:-}" ] && psql "$ADMIN" -qc "DROP DATABASE IF EXISTS bench_rd_tpl WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS bench_rd_base WITH (FORCE)" -c "DROP DATABASE IF EXISTS bench_rd_warm WITH (FORCE)" >/dev/null 2>&1
  [ "$started_db" = 1 ] && [ -z "$KEEP" ] && scripts/devdb stop
  true
}
trap cleanup EXIT
scripts/devdb status >/dev/null 2>&1 || started_db=1
ADMIN=$(scripts/devdb start)
BASE=${ADMIN%/*}
scripts/kafka destroy >/dev/null 2>&1 || true
# The contract's topics and every drain's derived topic (the warm-up's, then run r's a and b), the
# latter as schemas/topics.json's cs.derived (partitions, retention; no dead-letter topic: nothing
# consumes them), created with the broker (scripts/kafka start, CS_TOPICS_FILE).
case "$RUNS" in ''|*[!0-9]*|0) echo "bench/readiness.sh: --runs wants a positive number" >&2; exit 2 ;; esac
tags=warm
for r in $(seq 1 "$RUNS"); do tags+=" ${r}a ${r}b"; done
jq --arg p "bench.rd.$$." --arg tags "$tags" '
  (.topics[] | select(.name == "cs.derived") | {partitions, retention_ms}) as $d
  | .topics += [$tags | split(" ")[] | select(. != "") | {name: ($p + .)} + $d]' \
  schemas/topics.json >"$RUN/topics.json"
BROKERS=$(CS_TOPICS_FILE=$RUN/topics.json scripts/kafka start)
BROKER_PID=$(cat "$CS_KAFKA_DIR/node-1/pid")
PG_PID=$(head -1 "$(psql "$ADMIN" -qAtX -c 'SHOW data_directory')/postmaster.pid")
export CS_KAFKA_BROKERS=$BROKERS CS_LOG_LEVEL=warn
TICK=$(getconf CLK_TCK)

psqla() { psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 "$@"; }

# CPU seconds (user + system) used so far by the broker's JVM.
broker_cpu() { awk -v t="$TICK" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$BROKER_PID/stat"; }
# Its threads' CPU ticks so far ("tid name ticks", the name's digits and blanks dropped: one
# kind of thread per name); broker_parts BEFORE AFTER: the seconds between, per kind, above 0.02.
broker_threads() {
  for t in /proc/"$BROKER_PID"/task/*; do
    sed -E 's/^([0-9]+) \((.*)\) (.*)$/\1 \2\n\3/' "$t/stat" 2>/dev/null |
      awk 'NR == 1 { id = $1; $1 = ""; gsub(/[0-9 ]/, ""); name = $0 } NR == 2 { print id, name, $12 + $13 }'
  done
}
broker_parts() {
  awk -v t="$TICK" 'NR == FNR { b[$1] = $3; next } { s[$2] += $3 - b[$1] }
    END { for (k in s) if (s[k] / t >= 0.02) printf "%s %.2f ", k, s[k] / t }' "$1" "$2"
}
# The CPU of the PostgreSQL backends serving database $1 (what a worker costs the server;
# whatever else the cluster runs meanwhile, tests of the same checkout included, is left out):
# pg_watch DB FILE polls them every 0.2 s until killed, pg_cpu FILE sums each backend's last
# sample (what a backend spends after its last sample, its exit, is missed).
# pg_watch also notes each backend's application_name once (FILE.names: "pid name").
# Both watchers run beside the drain on the same 2 cores: a sample is a few processes (ps, cat,
# awk), not one per backend or thread (sed and awk per thread cost ~0.25 of a core).
pg_watch() {
  local -A named=()
  local c pids
  : >"$2.names"
  while :; do
    pids=$(ps --ppid "$PG_PID" -o pid=,args= | awk -v db="$1" '$4 == db {printf "/proc/%s/stat ", $1}' || true)
    if [ -n "$pids" ]; then
      for c in $pids; do
        c=${c#/proc/}
        c=${c%/stat}
        if [ -z "${named[$c]:-}" ]; then
          named[$c]=$(psql "$ADMIN" -qAtX -c "SELECT coalesce(nullif(application_name, ''), '?') FROM pg_stat_activity WHERE pid = $c" 2>/dev/null || true)
          [ -z "${named[$c]}" ] || echo "$c ${named[$c]}" >>"$2.names"
        fi
      done
      # shellcheck disable=SC2086 # one path per word
      cat $pids 2>/dev/null | awk '{print $1, $14, $15}' >>"$2" || true
    fi
    sleep 0.2
  done
}
pg_cpu() { awk -v t="$TICK" '{ c[$1] = $2 + $3 } END { for (p in c) s += c[p]; printf "%.2f\n", s / t }' "$1"; }
# The same per application_name: "name seconds ..." on one line.
pg_parts() {
  awk -v t="$TICK" 'FILENAME ~ /names$/ { n[$1] = $2; next } { c[$1] = $2 + $3 }
    END { for (p in c) s[(p in n) ? n[p] : "?"] += c[p]; for (k in s) printf "%s %.2f ", k, s[k] / t }' "$1.names" "$1"
}
# thr_watch FILE PID...: the threads of the children of the PIDs (the /usr/bin/time processes of
# a drain's members) every 0.2 s until killed: "tid name utime stime" lines (a name's blanks as _).
thr_watch() {
  local f=$1 p c kids
  shift
  while :; do
    for p in "$@"; do
      kids=
      read -r kids 2>/dev/null <"/proc/$p/task/$p/children" || true
      for c in $kids; do cat /proc/"$c"/task/*/stat 2>/dev/null || true; done
    done | awk '{ o = index($0, " ("); match($0, /\)[^)]*$/)
                  name = substr($0, o + 2, RSTART - o - 2); gsub(/ /, "_", name)
                  split(substr($0, RSTART + 2), a, " "); print $1, name, a[12], a[13] }' >>"$f"
    sleep 0.2
  done
}
# The worker threads' CPU by name (last sample of each thread), the librdkafka threads started
# after the relay's (cs-outbox: those of its producer) as "relay_rdk:<name>".
thr_parts() {
  awk -v t="$TICK" '{ c[$1] = $3 + $4; n[$1] = $2 } END {
    for (i in n) if (n[i] == "cs-outbox" && (r == "" || i + 0 < r + 0)) r = i
    for (i in c) { k = n[i]; if (r != "" && k ~ /^rdk:/ && i + 0 > r + 0) k = "relay_" k; s[k] += c[i] }
    for (k in s) printf "%s %.2f ", k, s[k] / t }' "$1"
}
# Runs a drain ($1 database, then the command) with its backends watched; sets PGCPU.
watched() {
  local db=$1 f=$RUN/pgcpu.$1 wp rc=0
  shift
  : >"$f"
  pg_watch "$db" "$f" &
  wp=$!
  "$@" || rc=$?
  kill "$wp" 2>/dev/null || true
  wait "$wp" 2>/dev/null || true
  PGCPU=$(pg_cpu "$f")
  return $rc
}

psqla -c "DROP DATABASE IF EXISTS bench_rd_tpl WITH (FORCE)" -c "CREATE DATABASE bench_rd_tpl"
"$BIN/cs-migrate" --pg-dsn "$BASE/bench_rd_tpl" >/dev/null
"$BIN/cs-seed" --pg-dsn "$BASE/bench_rd_tpl" >/dev/null
"$BIN/cs-loadgen" --publish --learners "$LEARNERS" --events "$EVENTS" --days 0 --seed "$SEED" \
  --log-level warn 2>"$RUN/loadgen.log"

TOPICS=cs.learning,cs.mentoring,cs.jobsearch,cs.portfolio,cs.profile
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# cs-progress once; every run of cs-readiness gets a copy of what it wrote.
psqla -c "DROP DATABASE IF EXISTS bench_rd_base WITH (FORCE)" -c "CREATE DATABASE bench_rd_base TEMPLATE bench_rd_tpl"
b0=$(broker_cpu) t0=$(now)
watched bench_rd_base /usr/bin/time -f "%U %S %M" -o "$RUN/progress.time" "$BIN/cs-progress" \
  --pg-dsn "$BASE/bench_rd_base$PDSNOPT" --topics "$TOPICS" --group "$PGP.$$" --drain --metrics-port -1 \
  --log-level warn 2>"$RUN/progress.log"
t1=$(now) b1=$(broker_cpu)
read -r pu ps prss <"$RUN/progress.time"
awk -v t="$(echo "$t1 - $t0" | bc -l)" -v n="$EVENTS" -v w="$(echo "$pu + $ps" | bc -l)" \
  -v pg="$PGCPU" -v b="$(echo "$b1 - $b0" | bc -l)" -v m="$prss" 'BEGIN {
  printf "cs-progress: %.2f s, %.0f events/s, CPU worker %.2f s, PostgreSQL %.2f s, broker %.2f s (%.1f us/event), peak RSS %.1f MiB\n",
    t, n / t, w, pg, b, 1e6 * (w + pg + b) / n, m / 1024 }'
psql "$BASE/bench_rd_base" -qc "ANALYZE" -c "CHECKPOINT"
if [ -n "$KEEP" ]; then
  psqla -c "DROP DATABASE IF EXISTS \"$KEEP\" WITH (FORCE)" -c "CREATE DATABASE \"$KEEP\" TEMPLATE bench_rd_base"
fi

case "$MEMBERS" in ''|*[!0-9]*|0) echo "bench/readiness.sh: --members wants a positive number" >&2; exit 2 ;; esac
SOPT=()
[ -z "$STRATEGY" ] || SOPT=(--assignment-strategy "$STRATEGY")
# Runs one drain's members ($1 binary, $2 run tag, $3 database, then cs-readiness options), each
# under /usr/bin/time (readiness.TAG.M.time, its log readiness.TAG.M.log); fails if one fails.
drain_members() {
  local bin=$1 tag=$2 db=$3 m pids=() rc=0
  shift 3
  for m in $(seq 1 "$MEMBERS"); do
    /usr/bin/time -f "%U %S %M" -o "$RUN/readiness.$tag.$m.time" "$bin/cs-readiness" \
      --pg-dsn "$BASE/$db$DSNOPT" --topics "$TOPICS" --group "$GP.$$.$tag" --drain --metrics-port -1 \
      --log-level info --derived-topic "bench.rd.$$.$tag" "${SOPT[@]}" "$@" 2>"$RUN/readiness.$tag.$m.log" &
    pids+=($!)
  done
  : >"$RUN/threads.$tag"
  thr_watch "$RUN/threads.$tag" "${pids[@]}" &
  local tw=$!
  for m in "${pids[@]}"; do wait "$m" || rc=$?; done
  kill "$tw" 2>/dev/null || true
  wait "$tw" 2>/dev/null || true
  return $rc
}

if [ "$WARM_DRAIN" = 1 ]; then
  psqla -c "DROP DATABASE IF EXISTS bench_rd_warm WITH (FORCE)" -c "CREATE DATABASE bench_rd_warm TEMPLATE bench_rd_base"
  t0=$(now)
  "$BIN/cs-readiness" --pg-dsn "$BASE/bench_rd_warm$DSNOPT" --topics "$TOPICS" --group "$GP.$$.warm" --drain \
    --metrics-port -1 --log-level warn --derived-topic "bench.rd.$$.warm" "$@" 2>"$RUN/readiness.warm.log"
  printf 'warm-up drain (--warm-drain, untimed, not in the results): %.2f s\n' "$(echo "$(now) - $t0" | bc -l)"
  psqla -c "DROP DATABASE bench_rd_warm WITH (FORCE)"
fi

: >"$RUN/results"
for r in $(seq 1 "$RUNS"); do
  order=a
  [ -z "$CMP" ] || order=$([ $((r % 2)) = 1 ] && echo "a b" || echo "b a")
  for w in $order; do
    DB=bench_rd_$r$w
    psqla -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB TEMPLATE bench_rd_base"
    [ "$w" = a ] || [ -z "$CMPSQL" ] || psql "$BASE/$DB" -qX -v ON_ERROR_STOP=1 -f "$CMPSQL" >/dev/null
    psql "$BASE/$DB" -qc "CHECKPOINT"
    if [ "$w" = a ]; then wbin=$BIN; else wbin=$CMP; fi
    hold=
    if [ "$HOLD_RELAY" = 1 ]; then
      # the group's relay lock, held by a session of this database until the drain is done
      psql "$BASE/$DB" -qAtX -c "SELECT pg_advisory_lock(hashtextextended('careerstream:outbox-relay:$GP.$$.$r$w', 0))" \
        -c "SELECT pg_sleep(86400)" >/dev/null 2>&1 &
      hold=$!
      until [ "$(psql "$BASE/$DB" -qAtX -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]; do sleep 0.1; done
    fi
    broker_threads >"$RUN/broker0.$r$w"
    b0=$(broker_cpu) t0=$(now)
    rm -f "$RUN/readiness.$r$w".*
    watched "$DB" drain_members "$wbin" "$r$w" "$DB" "$@"
    t1=$(now) b1=$(broker_cpu)
    broker_threads >"$RUN/broker1.$r$w"
    [ -z "$hold" ] || { kill "$hold" 2>/dev/null; wait "$hold" 2>/dev/null || true; }
    pending=$(psql "$BASE/$DB" -qAtX -c "SELECT count(*) FROM outbox_events")
    echo "parts $r$w: PostgreSQL $(pg_parts "$RUN/pgcpu.$DB")| worker $(thr_parts "$RUN/threads.$r$w")| outbox pending $pending | broker $(broker_parts "$RUN/broker0.$r$w" "$RUN/broker1.$r$w")" |
      tee "$RUN/parts.$r$w"
    # the members' CPU summed, the largest RSS, the recomputations summed
    read -r wu ws wrss < <(awk '{ u += $1; s += $2; if ($3 > m) m = $3 } END { print u, s, m }' "$RUN/readiness.$r$w".*.time)
    scored=$(cat "$RUN/readiness.$r$w".*.log | grep -o '"learners_scored":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
    # the learners with a score: in career_readiness_scores since migration 0099, on the progress
    # rows before (a binary of an older checkout writes those; the other place stays empty)
    distinct=$(psql "$BASE/$DB" -qAt -c "SELECT count(readiness_score) FROM career_transformation_progress")
    distinct=$((distinct + $(psql "$BASE/$DB" -qAt -c "SELECT count(*) FROM career_readiness_scores" 2>/dev/null || echo 0)))
    awk -v t0="$t0" -v t1="$t1" -v n="$EVENTS" -v s="${scored:-0}" -v d="$distinct" -v r="$r" -v w="$w" \
      -v wc="$(echo "$wu + $ws" | bc -l)" -v pg="$PGCPU" \
      -v b="$(echo "$b1 - $b0" | bc -l)" -v m="$wrss" 'BEGIN {
      t = t1 - t0; printf "%s %.2f %.0f %.0f %.0f %d %d %.2f %.2f %.2f %.1f %.1f %s\n", r, t, n / t, s / t, d / t, s, d,
        wc, pg, b, 1e6 * (wc + pg + b) / n, m / 1024, w }' | tee -a "$RUN/results"
    psqla -c "DROP DATABASE $DB WITH (FORCE)"
  done
done
echo "run seconds events/s recomputations/s distinct_learners/s recomputations distinct cpu_worker_s cpu_pg_s cpu_broker_s cpu_us/event rss_mib bin"
col() { cut -d' ' -f"$1" "$RUN/results.$w" | median; }
for w in a $([ -n "$CMP" ] && echo b); do
  grep " $w\$" "$RUN/results" >"$RUN/results.$w"
  printf 'median%s: %ss %s events/s %s recomputations/s %s distinct learners/s, CPU worker %ss PostgreSQL %ss broker %ss = %s us/event, RSS %s MiB (%s runs, %s events, %s learners, seed %s, %s member(s))\n' \
    "$([ -n "$CMP" ] && echo " $w ($([ "$w" = a ] && echo "$BIN" || echo "$CMP"))")" \
    "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 8)" "$(col 9)" "$(col 10)" "$(col 11)" "$(col 12)" \
    "$RUNS" "$EVENTS" "$LEARNERS" "$SEED" "$MEMBERS"
done
