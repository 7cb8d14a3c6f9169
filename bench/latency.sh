#!/usr/bin/env bash
# bench/latency.sh - end-to-end latency of the workers at a steady rate, cheaply, with a floor.
#
#   bench/latency.sh [--workers "audit progress"] [--rate R] [--seconds S] [--bin DIR]
#                    [--batch-ms MS] [--kcat] [--debug] [-- worker options...]
#
# The latency stage of bench/pipeline.sh on its own, to be run many times while changing the
# runtime: on the broker named by CS_KAFKA_BROKERS (or its own single-node Apache Kafka in
# .run/latency/kafka, fresh) and a fresh database of the scripts/devdb cluster, it starts each
# worker (--batch-ms 5 as bench/pipeline.sh, or MS, but cs-readiness and cs-matcher with their own
# batch wait; and the options after --) on fresh topics, publishes R events/s for S
# seconds (cs-loadgen --rate R --linger-ms 1: the message timestamp is the producer's), and reads
# p50/p99/max end-to-end latency (produce timestamp to commit, the runtime's
# cs_event_e2e_latency_seconds histogram) of the events committed after the first 5 s. Also
# each worker's CPU seconds over the run and, with --debug, the p50/p99 of its `batch committed`
# lines (events, seconds). --kcat measures the floor on the same run: kcat (librdkafka, like
# the workers; fetch.wait.max.ms=5) consuming the same topics, latency = receive - timestamp.
# Logs in .run/latency/. Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
WORKERS="audit progress"
RATE=1000
SECS=25
BIN=$ROOT/build/bin
KCAT=0
DEBUG=0
BATCH_MS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --batch-ms) BATCH_MS=$2; shift 2 ;;
    --kcat) KCAT=1; shift ;;
    --debug) DEBUG=1; shift ;;
    --) shift; break ;;
    *) echo "usage: bench/latency.sh [--workers LIST] [--rate R] [--seconds S] [--bin DIR] [--batch-ms MS] [--kcat] [--debug] [-- worker options]" >&2; exit 2 ;;
  esac
done
WOPTS=("$@")
[ "$SECS" -gt 8 ] || { echo "latency.sh: --seconds must be above 8 (the first 5 s are excluded)" >&2; exit 2; }

RUN=$ROOT/.run/latency
mkdir -p "$RUN"
pids=()
started_db=0
own_kafka=0
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ "$own_kafka" = 1 ] && CS_KAFKA_DIR=$RUN/kafka scripts/kafka destroy
  [ "$started_db" = 1 ] && scripts/devdb stop
  true
}
trap cleanup EXIT
scripts/devdb status >/dev/null 2>&1 || started_db=1
ADMIN=$(scripts/devdb start)
BASE=${ADMIN%/*}
if [ -z "${CS_KAFKA_BROKERS:-}" ]; then
  own_kafka=1
  CS_KAFKA_DIR=$RUN/kafka scripts/kafka destroy
  CS_KAFKA_BROKERS=$(CS_KAFKA_DIR=$RUN/kafka scripts/kafka start)
fi
export CS_KAFKA_BROKERS CS_LOG_LEVEL=warn
TICK=$(getconf CLK_TCK)
cpu_s() { awk -v t="$TICK" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$1/stat"; }

# The migrated and seeded template, once per cluster (kept: dropped by `scripts/devdb stop`).
if [ "$(psqla -c "SELECT count(*) FROM pg_database WHERE datname = 'lat_tpl'")" = 0 ]; then
  psqla -c "CREATE DATABASE lat_tpl"
  "$BIN/cs-migrate" --pg-dsn "$BASE/lat_tpl" >/dev/null
  [ -x "$BIN/cs-seed" ] && "$BIN/cs-seed" --pg-dsn "$BASE/lat_tpl" >/dev/null
fi
psqla -c "DROP DATABASE IF EXISTS lat_run WITH (FORCE)" -c "CREATE DATABASE lat_run TEMPLATE lat_tpl" -c "CHECKPOINT"

prefix="lat.$$.$(date +%s)."
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
# Create the topics before the workers subscribe (auto-created on the first metadata request).
"$BIN/cs-loadgen" --seed 7 --learners 1000 --days 0 --events 200 --publish --topic-prefix "$prefix" 2>/dev/null

port=19400
declare -A wport wpid
level=warn
[ "$DEBUG" = 1 ] && level=debug
for w in $WORKERS; do
  port=$((port + 1))
  wport[$w]=$port
  # cs-readiness and cs-matcher keep their own batch wait (a second: their cost is per batch).
  bm=(--batch-ms "$BATCH_MS")
  case $w in readiness | matcher) bm=() ;; esac
  "$BIN/cs-$w" --pg-dsn "$BASE/lat_run" --group "lat-$w-$$" --topics "$topics" \
    --metrics-port "$port" "${bm[@]}" --log-level "$level" "${WOPTS[@]}" 2>"$RUN/$w.log" &
  wpid[$w]=$!
  pids+=($!)
done
for w in $WORKERS; do # wait until each worker has its partitions
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:${wport[$w]}/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
# Let the 200 topic-creating events be committed before the measured run.
sleep 1
if [ "$KCAT" = 1 ]; then
  topic_args=()
  for t in ${topics//,/ }; do [ "${t%.cs.derived}" = "$t" ] && topic_args+=("$t"); done # no events there
  # Receive time (wall clock, ms) and the message timestamp per line; -u: unbuffered. Through a
  # fifo, so that both processes have a pid to stop.
  rm -f "$RUN/kcat.fifo" && mkfifo "$RUN/kcat.fifo"
  python3 -u -c '
import sys, time
for line in sys.stdin:
    print("%d %s" % (time.time() * 1000, line.strip()), flush=True)' <"$RUN/kcat.fifo" >"$RUN/kcat.out" &
  pids+=($!)
  kcat -C -b "$CS_KAFKA_BROKERS" -G "lat-kcat-$$" -X fetch.wait.max.ms=5 -X auto.offset.reset=latest \
    -u -q -f '%T\n' "${topic_args[@]}" >"$RUN/kcat.fifo" 2>"$RUN/kcat.err" &
  pids+=($!)
  sleep 3
fi
events=$((RATE * SECS))
"$BIN/cs-loadgen" --seed 8 --learners 10000 --days 0 --events "$events" --rate "$RATE" --linger-ms 1 --publish \
  --topic-prefix "$prefix" 2>"$RUN/loadgen.log" &
gen=$!
t_start=$(date +%s%3N)
declare -A cpu0
for w in $WORKERS; do cpu0[$w]=$(cpu_s "${wpid[$w]}"); done
# The first seconds include the producer's own start (connections, metadata): measure after them.
sleep 5
for w in $WORKERS; do curl -s "http://127.0.0.1:${wport[$w]}/metrics" >"$RUN/$w.before"; done
[ "$DEBUG" = 1 ] && for w in $WORKERS; do wc -l <"$RUN/$w.log" >"$RUN/$w.loglines"; done
wait "$gen"
sleep 1
echo "rate $RATE events/s for $SECS s, workers: $WORKERS, --batch-ms $BATCH_MS ${WOPTS[*]:-}"
for w in $WORKERS; do
  curl -s "http://127.0.0.1:${wport[$w]}/metrics" >"$RUN/$w.after"
  cpu=$(echo "$(cpu_s "${wpid[$w]}") - ${cpu0[$w]}" | bc -l)
  # p50/p99 of the events committed between the two scrapes (bench/lib.sh).
  read -r p50 p99 pmax n < <(e2e_quantiles "$RUN/$w.before" "$RUN/$w.after")
  printf '%-9s p50 %7.2f ms  p99 %7.2f ms  max <= %7.1f ms  (%d events)  CPU %.2f s\n' "$w" "$p50" "$p99" "$pmax" "$n" "$cpu"
  if [ "$DEBUG" = 1 ]; then
    tail -n +"$(($(cat "$RUN/$w.loglines") + 1))" "$RUN/$w.log" | grep -E '"batch (committed|timing)"' |
      python3 -c '
import json, sys
rows = {"batch committed": [], "batch timing": []}
for l in sys.stdin:
    if l.startswith("{"):
        j = json.loads(l)
        rows[j["msg"]].append(j["fields"])
def pct(r, k, q):
    v = sorted(float(x.get(k, 0)) for x in r)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0
c, t = rows["batch committed"], rows["batch timing"]
print("          %d batches; p50/p99: events %g/%g, seconds %.4f/%.4f, commit_s %.4f/%.4f" % (
    len(c), pct(c, "events", .5), pct(c, "events", .99), pct(c, "seconds", .5), pct(c, "seconds", .99),
    pct(c, "commit_s", .5), pct(c, "commit_s", .99)))
if t:
    print("          pipelined %d; p50/p99/max ms: oldest age at prepare %s, prepare %s, ready wait %s, transaction %s, back to loop %s" % (
        len(t), "/".join("%.1f" % pct(t, "age_at_prepare_ms", q) for q in (.5, .99, 1)),
        *("/".join("%.1f" % (1000 * pct(t, k, q)) for q in (.5, .99, 1)) for k in ("prepare_s", "ready_wait_s", "commit_s", "to_loop_s"))))'
  fi
done
if [ "$KCAT" = 1 ]; then
  awk -v from="$((t_start + 5000))" '$2 >= from { d = $1 - $2; if (d < 0) d = 0; print d }' "$RUN/kcat.out" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) printf "kcat      p50 %7.2f ms  p99 %7.2f ms  max    %7.1f ms  (%d events)\n", v[int(NR * .5) + 1], v[int(NR * .99) + 1], v[NR], NR; else print "kcat: no events" }'
fi
psqla -c "DROP DATABASE IF EXISTS lat_run WITH (FORCE)" >/dev/null
