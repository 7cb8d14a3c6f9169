#!/usr/bin/env bash
# bench/pipeline.sh - the first pipeline's benchmark: drain rate, latency, memory, COPY limit.
#
#   bench/pipeline.sh [--events N] [--latency-events N] [--rate R] [--workers "audit progress"]
#                     [--publish-linger-ms MS]
#
# On its own throwaway Apache Kafka (scripts/kafka, one KRaft node in .run/bench/kafka, fresh each
# run) and databases in the throwaway PostgreSQL cluster (scripts/devdb):
#  1. publishes N events (default 1,000,000) from cs-loadgen to the real topics (partition
#     counts from schemas/topics.json) with the load generator's default producer settings
#     (--publish-linger-ms MS overrides its linger);
#  2. drains them with each worker alone and with all of them together (--drain, fresh database
#     and consumer group each time): events/s, peak RSS (VmHWM) per worker, and the broker's own
#     CPU time during the drain (its share of the machine's two cores);
#  3. measures the machine's own limit for the same rows: a plain COPY of the audit worker's rows
#     into the same table of a fresh database, so the audit worker can be stated as a fraction;
#  4. runs every worker at a steady R events/s (default 1,000) with realtime timestamps and reads
#     p50/p99 end-to-end latency (produce time to commit) from their /metrics histograms.
# Prints a table and writes bench/results/pipeline-<UTC timestamp>.json. Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
EVENTS=1000000
LAT_EVENTS=30000
RATE=1000
PUB_LINGER=
WORKERS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --latency-events) LAT_EVENTS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --publish-linger-ms) PUB_LINGER=$2; shift 2 ;;
    *) echo "usage: bench/pipeline.sh [--events N] [--latency-events N] [--rate R] [--workers LIST] [--publish-linger-ms MS]" >&2; exit 2 ;;
  esac
done

scripts/bootstrap
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
BIN=$ROOT/build-bench/bin
if [ -z "$WORKERS" ]; then
  for w in audit progress; do [ -x "$BIN/cs-$w" ] && WORKERS="$WORKERS $w"; done
fi
WORKERS=$(echo $WORKERS)

RUN=$ROOT/.run/bench
mkdir -p "$RUN" bench/results
started_db=0
export CS_KAFKA_DIR=$RUN/kafka
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  scripts/kafka destroy || true
  [ "$started_db" = 1 ] && scripts/devdb stop
  true
}
trap cleanup EXIT
scripts/devdb status >/dev/null 2>&1 || started_db=1
ADMIN=$(scripts/devdb start)
BASE=${ADMIN%/*}
scripts/kafka destroy
BROKERS=$(scripts/kafka start)
BROKER_PID=$(cat "$CS_KAFKA_DIR/node-1/pid")
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka-dist/pom.xml)
export CS_KAFKA_BROKERS=$BROKERS CS_LOG_LEVEL=warn
TICK=$(getconf CLK_TCK)
# CPU seconds (user + system) the broker's JVM has used so far.
broker_cpu() { awk -v t="$TICK" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$BROKER_PID/stat"; }

now() { date +%s.%N; }
num() { printf '%.3f' "$1"; } # bc prints ".5": not JSON
psqla() { psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 "$@"; }
fresh_db() { # name: a new database from the migrated and seeded template, checkpointed, so a
  # step does not pay for the dirty buffers and WAL of the step before (the COPY limit alike)
  psqla -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 TEMPLATE bench_tpl" -c "CHECKPOINT"
}

echo "== template database (migrations + reference data)"
psqla -c "DROP DATABASE IF EXISTS bench_tpl WITH (FORCE)" -c "CREATE DATABASE bench_tpl"
"$BIN/cs-migrate" --pg-dsn "$BASE/bench_tpl" >/dev/null
[ -x "$BIN/cs-seed" ] && "$BIN/cs-seed" --pg-dsn "$BASE/bench_tpl" >/dev/null

echo "== publishing $EVENTS events"
t0=$(now)
c0=$(broker_cpu)
"$BIN/cs-loadgen" --seed 2026 --learners 10000 --days 0 --events "$EVENTS" ${PUB_LINGER:+--linger-ms "$PUB_LINGER"} --publish 2>"$RUN/loadgen.log"
t1=$(now)
pub_cpu=$(echo "$(broker_cpu) - $c0" | bc -l)
pub_rate=$(echo "$EVENTS / ($t1 - $t0)" | bc -l)
printf 'published %d events in %.1f s (%.0f events/s), broker CPU %.1f s\n' "$EVENTS" "$(echo "$t1 - $t0" | bc -l)" "$pub_rate" "$pub_cpu"

# Seconds since midnight of each JSON log line's "ts" (UTC).
log_secs() { sed -E 's/.*"ts":"[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z".*/\1 \2 \3/' | awk '{printf "%.3f\n", $1 * 3600 + $2 * 60 + $3}'; }

# Runs the given workers with --drain against database $1; prints
# "<drain seconds> <wall seconds> <w>=<rss_kib> ...".
drain_run() {
  local db=$1; shift
  local tag=$1; shift
  local -A rss=()
  local -a wp=() names=()
  local start end w k=0
  start=$(now)
  for w in "$@"; do
    # Instances of the same worker share its consumer group (scale-out); name them w, w.2, ...
    k=$((k + 1))
    local name=$w
    for n in "${names[@]}"; do [ "${n%%.*}" = "$w" ] && name="$w.$k"; done
    names+=("$name")
    "$BIN/cs-$w" --pg-dsn "$BASE/$db" --group "bench-$tag-$w-$$" --drain --metrics-port -1 \
      --log-level info 2>"$RUN/$tag-$name.log" &
    wp+=($!)
    pids+=($!)
  done
  set -- "${names[@]}"
  while :; do
    local alive=0 i=0
    for w in "$@"; do
      local p=${wp[$i]}
      if [ -r "/proc/$p/status" ]; then
        local h
        h=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        [ -n "$h" ] && rss[$w]=$h
        alive=1
      fi
      i=$((i + 1))
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for p in "${wp[@]}"; do wait "$p" || { echo "a worker failed: see $RUN/$tag-*.log" >&2; exit 1; }; done
  end=$(now)
  # Drain time: from the first partition assignment (the consumer group join is not the workers'
  # work) to the last worker's "drained" line.
  local t_from t_to
  t_from=$(for w in "$@"; do grep -m1 '"partition assigned"' "$RUN/$tag-$w.log"; done | log_secs | sort -n | head -1)
  t_to=$(for w in "$@"; do grep -m1 '"drained' "$RUN/$tag-$w.log"; done | log_secs | sort -n | tail -1)
  printf '%s %s' "$(echo "$t_to - $t_from" | bc -l)" "$(echo "$end - $start" | bc -l)"
  for w in "$@"; do printf ' %s=%s' "$w" "${rss[$w]:-0}"; done
  echo
}

# Events a worker accounted for in database $1 under consumer group $3: cs-audit one system_logs
# row per event it logged, the other workers one processed_events id per event; plus the dead
# letters of the group. Equal to the events published when nothing was lost.
accounted() {
  local db=$1 w=$2 group=$3 q
  case "$w" in
    audit) q="SELECT (SELECT count(*) FROM system_logs)" ;;
    *) q="SELECT (SELECT count(*) FROM processed_events WHERE consumer_group = '$group')" ;;
  esac
  psql "$BASE/$db" -qAt -v ON_ERROR_STOP=1 -c "$q + (SELECT count(*) FROM dead_letters WHERE consumer_group = '$group')"
}

declare -A drain_s drain_rss
json_runs=""
lost_total=0
# Each worker alone, all together, then each worker scaled out to two consumers of its group.
configs="$WORKERS all"
for w in $WORKERS; do configs="$configs ${w}x2"; done
for cfg in $configs; do
  case "$cfg" in
    all) set -- $WORKERS ;;
    *x2) set -- "${cfg%x2}" "${cfg%x2}" ;;
    *) set -- "$cfg" ;;
  esac
  [ "$cfg" = all ] && [ $# -lt 2 ] && continue
  echo "== drain: $cfg"
  fresh_db bench_run
  c0=$(broker_cpu)
  out=$(drain_run bench_run "$cfg" "$@")
  bcpu=$(echo "$(broker_cpu) - $c0" | bc -l)
  read -r secs wall rest <<<"$out"
  rate=$(echo "$EVENTS / $secs" | bc -l)
  drain_s[$cfg]=$secs
  printf '%-10s %8.1f s %10.0f events/s (%.1f s with start and group join; broker CPU %.1f s = %.0f%% of one core)' \
    "$cfg" "$secs" "$rate" "$wall" "$bcpu" "$(echo "100 * $bcpu / $wall" | bc -l)"
  rss_json=""
  for kv in $rest; do
    printf '  %s %.1f MiB' "${kv%%=*}" "$(echo "${kv#*=} / 1024" | bc -l)"
    rss_json="$rss_json${rss_json:+,}\"${kv%%=*}\":${kv#*=}"
  done
  echo
  acc_json=""
  for w in $(printf '%s\n' "$@" | sort -u); do
    n=$(accounted bench_run "$w" "bench-$cfg-$w-$$")
    acc_json="$acc_json${acc_json:+,}\"$w\":$n"
    if [ "$n" -ne "$EVENTS" ]; then
      echo "   LOSS: cs-$w accounted for $n of $EVENTS published events ($((EVENTS - n)) missing)"
      lost_total=$((lost_total + EVENTS - n))
    fi
  done
  json_runs="$json_runs${json_runs:+,}{\"workers\":\"$cfg\",\"seconds\":$(num "$secs"),\"wall_seconds\":$(num "$wall"),\"broker_cpu_seconds\":$(num "$bcpu"),\"events_per_s\":$(num "$rate"),\"peak_rss_kib\":{$rss_json},\"accounted\":{$acc_json}}"
  if [ "$cfg" = audit ]; then
    audit_rows=$(psql "$BASE/bench_run" -qAt -c "SELECT count(*) FROM system_logs")
    cols="event_id, event_type, schema_version, user_id, occurred_at, source_topic, source_partition, source_offset, producer, traceparent, payload, payload_sha256, chain_key, chain_seq, prev_hash, row_hash"
    psql "$BASE/bench_run" -qAt -c "\\copy (SELECT $cols FROM system_logs) TO '$RUN/audit_rows.copy'"
  fi
done

copy_json=null
if [ -n "${drain_s[audit]:-}" ]; then
  echo "== plain COPY of the same $audit_rows audit rows into a fresh system_logs"
  fresh_db bench_copy
  t0=$(now)
  psql "$BASE/bench_copy" -qAt -v ON_ERROR_STOP=1 -c "\\copy system_logs ($cols) FROM '$RUN/audit_rows.copy'"
  t1=$(now)
  copy_s=$(echo "$t1 - $t0" | bc -l)
  copy_rate=$(echo "$audit_rows / $copy_s" | bc -l)
  audit_rate=$(echo "$audit_rows / ${drain_s[audit]}" | bc -l)
  frac=$(echo "$audit_rate / $copy_rate" | bc -l)
  printf 'plain COPY: %.0f rows/s; cs-audit: %.0f rows/s = %.0f%% of the limit\n' "$copy_rate" "$audit_rate" "$(echo "$frac * 100" | bc -l)"
  copy_json="{\"rows\":$audit_rows,\"copy_rows_per_s\":$(num "$copy_rate"),\"audit_rows_per_s\":$(num "$audit_rate"),\"audit_fraction\":$(num "$frac")}"
  psqla -c "DROP DATABASE IF EXISTS bench_copy WITH (FORCE)"
fi

echo "== latency at a steady $RATE events/s ($LAT_EVENTS events, all workers running)"
fresh_db bench_lat
prefix="lat.$$."
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
# Create the topics before the workers subscribe (auto-created on first metadata request).
"$BIN/cs-loadgen" --seed 7 --learners 1000 --days 0 --events 200 --publish --topic-prefix "$prefix" 2>/dev/null
port=19300
declare -A wport
lat_pids=()
for w in $WORKERS; do
  port=$((port + 1))
  wport[$w]=$port
  "$BIN/cs-$w" --pg-dsn "$BASE/bench_lat" --group "bench-lat-$w-$$" --topics "$topics" \
    --metrics-port "$port" --batch-ms 5 2>"$RUN/lat-$w.log" &
  lat_pids+=($!)
  pids+=($!)
done
for w in $WORKERS; do  # wait until each worker has its partitions
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:${wport[$w]}/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
"$BIN/cs-loadgen" --seed 8 --learners 10000 --days 0 --events "$LAT_EVENTS" --rate "$RATE" --linger-ms 1 --publish \
  --topic-prefix "$prefix" 2>"$RUN/lat-loadgen.log" &
gen=$!
# The first seconds include the producer's own start (connections, metadata): measure after them.
sleep 5
for w in $WORKERS; do curl -s "http://127.0.0.1:${wport[$w]}/metrics" >"$RUN/lat-$w.before"; done
wait "$gen"
sleep 1
lat_json=""
for w in $WORKERS; do
  curl -s "http://127.0.0.1:${wport[$w]}/metrics" >"$RUN/lat-$w.metrics"
  # p50/p99 of the events committed between the two scrapes, from the cumulative histogram,
  # interpolating linearly inside the bucket.
  read -r p50 p99 n < <(awk '
    FNR == 1 { f++ }
    /^cs_event_e2e_latency_seconds_bucket/ {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      if (f == 1) { before[le] = $NF + 0; next }
      n++; b[n] = (le == "+Inf") ? 1e9 : le + 0; c[n] = $NF - before[le] }
    END {
      total = c[n]
      split("0.5 0.99", qs, " ")
      for (k = 1; k <= 2; k++) {
        want = qs[k] * total; prevb = 0; prevc = 0
        for (i = 1; i <= n; i++) {
          if (c[i] >= want) { v = (c[i] == prevc) ? b[i] : prevb + (b[i] - prevb) * (want - prevc) / (c[i] - prevc); break }
          prevb = b[i]; prevc = c[i]
        }
        printf "%.2f ", v * 1000
      }
      print total
    }' "$RUN/lat-$w.before" "$RUN/lat-$w.metrics")
  if [ "$n" -gt 0 ]; then
    printf '%-10s p50 %6.2f ms   p99 %6.2f ms   (%d events)\n' "$w" "$p50" "$p99" "$n"
    lat_json="$lat_json${lat_json:+,}\"$w\":{\"p50_ms\":$p50,\"p99_ms\":$p99,\"events\":$n}"
  else
    echo "$w: no events committed after the first 5 s (use more --latency-events)"
    lat_json="$lat_json${lat_json:+,}\"$w\":null"
  fi
done
for p in "${lat_pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
psqla -c "DROP DATABASE IF EXISTS bench_lat WITH (FORCE)" -c "DROP DATABASE IF EXISTS bench_run WITH (FORCE)"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/pipeline-$stamp.json
cat >"$out" <<JSON
{"benchmark":"pipeline","when":"$stamp","host":"$(uname -n)","cores":$(nproc),
 "events":$EVENTS,"broker":"apache-kafka-$KAFKA_VERSION","publish_events_per_s":$(num "$pub_rate"),"publish_broker_cpu_seconds":$(num "$pub_cpu"),"publish_linger_ms":${PUB_LINGER:-null},"events_lost":$lost_total,
 "drain":[$json_runs],
 "audit_vs_copy":$copy_json,
 "latency":{"rate_per_s":$RATE,"events":$LAT_EVENTS,"workers":{$lat_json}}}
JSON
echo "wrote $out"
