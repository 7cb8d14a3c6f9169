#!/usr/bin/env bash
# bench/pipeline.sh - the first pipeline's benchmark: drain rate, latency, memory, COPY limit.
#
#   bench/pipeline.sh [--events N] [--latency-events N] [--rate R]
#                     [--workers "audit progress readiness matcher"] [--configs LIST]
#                     [--publish-linger-ms MS] [--warm-broker] [--warm-drain] [--assignment-strategy S]
#                     [--as-role] [--bin DIR]
#
# On its own throwaway Apache Kafka (scripts/kafka, one KRaft node in .run/bench/kafka, fresh each
# run) and databases in the throwaway PostgreSQL cluster (scripts/devdb):
#  1. publishes N events (default 1,000,000) from cs-loadgen to the real topics (partition
#     counts from schemas/topics.json) with the load generator's default producer settings
#     (--publish-linger-ms MS overrides its linger);
#  2. drains them with each worker alone, with all of them together and with each scaled out to
#     two consumers (--configs picks among these: "W", "all", "Wx2", and "all+Wx2", all of them
#     with W as two consumers of its group; fresh database and consumer group each time) until every worker's group has
#     committed the end offsets of the topics it consumes (drain_run says how): events/s, each
#     worker's finish time, peak RSS (VmHWM) and CPU time, and the CPU time of PostgreSQL and of
#     the broker during the drain;
#  3. measures the machine's own limit for the same rows: a plain COPY of the audit worker's rows
#     into the same table of a fresh database, so the audit worker can be stated as a fraction;
#  4. runs every worker at a steady R events/s (default 1,000) with realtime timestamps and reads
#     p50/p99 end-to-end latency (produce time to commit) from their /metrics histograms
#     (--latency-events 0: not measured).
# --warm-broker: before the first drain, one consumer group (kcat, librdkafka's defaults) reads every
#     published event once and commits, so that the broker's JVM has compiled its fetch, offset and
#     group code as a long-running production broker has (a broker started just before the
#     benchmark spends ~8 s of CPU compiling them during the first drain: bench/README.md, "Where
#     the broker's CPU goes"); its seconds and broker CPU are printed, not counted in any drain.
# --warm-drain: after that, one drain of all the workers together on a fresh database, untimed and
#     in no result (its seconds, broker CPU and the broker's compiler threads are printed): the
#     kcat read leaves the fetch path of librdkafka's defaults compiled, not that of the workers'
#     settings, their derived events' produce path or their group traffic, and a first drain still
#     spent ~6 s of broker CPU in the JIT compiler (bench/README.md). A long-running broker has
#     compiled all of it; the measured drains then see only what a drain costs.
# --assignment-strategy S: every worker's --assignment-strategy (roundrobin: a scaled-out worker's
#     members each get the same residues of every topic's partitions, so each learner's events reach
#     one member; docs/operations.md, "Consumer groups"); default: the workers' own (cooperative-sticky).
# --as-role: every worker runs as its worker role (cs_worker_progress, cs_worker_audit,
#     cs_worker_readiness, cs_worker_matching; SET through the database URL's options, as test 0077
#     does) in a consumer group that role owns (cs-<worker>-bench-...), so the row-level security
#     and ownership checks of a deployment apply; without it the workers connect as the cluster's
#     superuser, which bypasses them.
# Prints a table and writes bench/results/pipeline-<UTC timestamp>.json. --workers defaults to
# every worker built; --bin uses built programs (e.g. build/bin) instead of building build-bench
# (Release). Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
EVENTS=1000000
LAT_EVENTS=30000
RATE=1000
PUB_LINGER=
WARM=0
WARM_DRAIN=0
ASSIGN=
WORKERS=""
CONFIGS=""
BIN=
AS_ROLE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --latency-events) LAT_EVENTS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --publish-linger-ms) PUB_LINGER=$2; shift 2 ;;
    --warm-broker) WARM=1; shift ;;
    --warm-drain) WARM_DRAIN=1; shift ;;
    --assignment-strategy) ASSIGN=$2; shift 2 ;;
    --bin) BIN=$(cd "$2" && pwd); shift 2 ;;
    --as-role) AS_ROLE=1; shift ;;
    *) echo "usage: bench/pipeline.sh [--events N] [--latency-events N] [--rate R] [--workers LIST] [--configs LIST] [--publish-linger-ms MS] [--warm-broker] [--warm-drain] [--assignment-strategy S] [--as-role] [--bin DIR]" >&2; exit 2 ;;
  esac
done

bench_build
if [ -z "$WORKERS" ]; then
  for w in audit progress readiness matcher; do [ -x "$BIN/cs-$w" ] && WORKERS="$WORKERS $w"; done
fi
WORKERS=$(echo $WORKERS)
ASSIGN_JSON=null
[ -z "$ASSIGN" ] || { export CS_ASSIGNMENT_STRATEGY=$ASSIGN; ASSIGN_JSON="\"$ASSIGN\""; }

bench_services bench
BROKER_PID=$(cat "$CS_KAFKA_DIR/node-1/pid")
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka-dist/pom.xml)
TICK=$(getconf CLK_TCK)
# CPU seconds (user + system) the broker's JVM has used so far.
broker_cpu() { awk -v t="$TICK" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$BROKER_PID/stat"; }
# CPU milliseconds of the broker's threads by kind ("kind<TAB>ms"; digits in a thread's name become
# N, so the four request handlers are one kind): the JVM lists its Java and VM threads (request
# handlers, network threads, JIT compilers, GC) with their CPU time in a thread dump. A thread that
# exited is missing; the remainder is "other".
broker_threads() {
  jcmd "$BROKER_PID" Thread.print 2>/dev/null | sed -nE 's/^"([^"]*)".* cpu=([0-9.]+)ms.*/\1\t\2/p' |
    awk -F'\t' '{gsub(/[0-9]+/, "N", $1); s[$1] += $2} END {for (k in s) printf "%s\t%.0f\n", k, s[k]}'
}
# The broker's CPU by thread kind since the snapshot $1 of broker_threads, of a total of $2
# seconds: the five biggest kinds, then the rest, as JSON members ("kind":seconds,...).
broker_threads_since() {
  broker_threads | awk -F'\t' -v total="$2" '
    NR == FNR { b[$1] = $2; next }
    { d = ($2 - b[$1]) / 1000; if (d > 0) print d "\t" $1 }' <(echo "$1") - | sort -rn |
    awk -F'\t' -v total="$2" '
      NR <= 5 { printf "%s\"%s\":%.2f", (NR > 1 ? "," : ""), $2, $1; total -= $1 }
      END { printf "%s\"other\":%.2f\n", (NR > 0 ? "," : ""), (total > 0 ? total : 0) }'
}
# Prints the JSON members of broker_threads_since as "kind s, ..." under a step's line.
print_threads() { echo "$1" | tr ',' '\n' | sed -E 's/^"(.*)":(.*)$/\1 \2 s/' | paste -sd, | sed 's/,/, /g; s/^/   broker threads: /'; }

bench_template bench_tpl

echo "== publishing $EVENTS events"
t0=$(now)
c0=$(broker_cpu)
th0=$(broker_threads)
"$BIN/cs-loadgen" --seed 2026 --learners 10000 --days 0 --events "$EVENTS" ${PUB_LINGER:+--linger-ms "$PUB_LINGER"} --publish 2>"$RUN/loadgen.log"
t1=$(now)
pub_cpu=$(echo "$(broker_cpu) - $c0" | bc -l)
pub_rate=$(echo "$EVENTS / ($t1 - $t0)" | bc -l)
printf 'published %d events in %.1f s (%.0f events/s), broker CPU %.1f s\n' "$EVENTS" "$(echo "$t1 - $t0" | bc -l)" "$pub_rate" "$pub_cpu"
pub_threads=$(broker_threads_since "$th0" "$pub_cpu")
print_threads "$pub_threads"

# Epoch seconds of a JSON log line's "ts" (UTC).
log_epoch() { date -u -d "$(sed -E 's/.*"ts":"([^"]+)".*/\1/')" +%s.%N; }
# CPU seconds (user + system) of process $1 so far (0 once it is gone).
pid_cpu() { awk -v t="$TICK" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# PostgreSQL's CPU: the postmaster and its children (the workers' backends, WAL writer,
# checkpointer, ...), "pid cpu" lines; the benchmark's own short psql backends are gone by then.
PG_PID=$(awk '{print $4}' "/proc/$(psqla -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")/stat")
pg_cpus() {
  echo "$PG_PID $(pid_cpu "$PG_PID")"
  # cat, not awk's own file list: mawk stops at the first file that vanished since the glob (a
  # process that exited), which dropped every later process from the sum.
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v pp="$PG_PID" -v t="$TICK" '$4 == pp {printf "%s %.2f\n", $1, ($14 + $15) / t}' || true
}
# CPU seconds PostgreSQL used since the snapshot $1 of pg_cpus (a process of the snapshot counts
# from its value there, a new one from its start).
pg_cpu_since() { pg_cpus | awk 'NR == FNR {b[$1] = $2; next} {s += $2 - b[$1]} END {printf "%.2f\n", s}' <(echo "$1") -; }
# Partitions per topic ("topic count" lines), from the broker's metadata.
kcat -b "$BROKERS" -L -J | jq -r '.topics[] | "\(.topic) \(.partitions | length)"' >"$RUN/partitions"
# End offsets (high watermarks) of every partition of the topics given: "topic partition offset".
partition_ends() {
  local -a q=()
  local t n p
  for t in "$@"; do
    n=$(awk -v t="$t" '$1 == t {print $2}' "$RUN/partitions")
    for ((p = 0; p < n; p++)); do q+=(-t "$t:$p:-1"); done
  done
  kcat -b "$BROKERS" -Q "${q[@]}" | awk '$3 == "offset" {gsub(/[][]/, "", $2); print $1, $2, $4}'
}
# The same summed per topic: "topic sum".
end_offsets() { partition_ends "$@" | awk '{s[$1] += $3} END {for (t in s) print t, s[t]}'; }
# cs.derived holds the derived events of the drains before (cs-loadgen publishes none there): the
# groups $2... start it at its end offsets of now, stored in database $1 as a worker resuming
# there would have stored them (the runtime seeks to a partition's stored offset when assigned),
# so that every drain reads the same events plus its own derived ones.
# The consumer group of worker $2 in drain $1, and its database URL ($1: the database): with
# --as-role each worker runs as its role (SET through the URL's options, as test 0077 does), in a
# group that role owns (cs-<worker>-...: worker_roles' prefixes).
grp() {
  if [ "$AS_ROLE" = 1 ]; then echo "cs-$2-bench-$1-$$"; else echo "bench-$1-$2-$$"; fi
}
wdsn() {
  local role
  case $2 in matcher) role=cs_worker_matching ;; *) role=cs_worker_$2 ;; esac
  if [ "$AS_ROLE" = 1 ]; then echo "$BASE/$1?options=-c%20role%3D$role"; else echo "$BASE/$1"; fi
}

start_derived_at_end() {
  local db=$1; shift
  local g rows=""
  while read -r t p o; do
    for g in "$@"; do rows="$rows${rows:+,}('$g','$t',$p,$o)"; done
  done < <(partition_ends cs.derived)
  psql "$BASE/$db" -qAt -v ON_ERROR_STOP=1 \
    -c "INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES $rows"
}

# Runs the given workers against database $1 (tag $2) until every one is drained, and prints
# "<drain s> <wall s> <postgres cpu s>", then per instance "name=<rss_kib>:<cpu s>", then per
# worker "w@<finish s>:<events consumed>:<events in its topics>" (counted from where the drain
# started: offset 0, cs.derived's end, see start_derived_at_end).
#
# Drained is measured the same way for every worker, from what it committed: the next offsets its
# group stored in consumer_offsets (the runtime writes them in each batch's transaction, whatever
# the worker does with the events: rows per event, a score per learner, nothing at all) against
# the end offsets of every partition of the topics it consumes (the topics of its partition
# assignments, logged by the runtime; every topic exists before the workers start, so the first
# assignment names them all). Derived events (cs-readiness and cs-matcher publish them through
# their outbox to cs.derived, which cs-matcher and cs-audit consume) keep arriving while the
# others run, so --drain (the end of the partitions when a worker gets there) is not used: the
# run is drained when, in one look, every group had committed the end offsets and the outbox was
# empty; the look reads the offsets, then the outbox, then the broker's end offsets, so that an
# event published after a group's read is either counted in the outbox or in the end offsets. A
# worker's finish time is the look from which its group's offsets stayed at the end, unmoved
# (0.25 s apart near the end, 1 s before; one psql and one kcat each). Times count from the first
# partition assigned (the group join is not the workers' work).
drain_run() {
  local db=$1; shift
  local tag=$1; shift
  local -A rss=() fin=() cus=() topics=() tot_c=() tot_e=()
  local -a names=()
  wp=() # not local: the EXIT trap below reads it
  local start w k=0 n pg0
  # This runs in a command substitution: the script's cleanup does not see these workers.
  trap 'for p in "${wp[@]}"; do kill -TERM "$p" 2>/dev/null || true; done' EXIT
  local -a kinds
  mapfile -t kinds < <(printf '%s\n' "$@" | sort -u)
  start_derived_at_end "$db" $(for w in "${kinds[@]}"; do grp "$tag" "$w"; done)
  local from
  from=$(end_offsets cs.derived)
  pg0=$(pg_cpus)
  start=$(now)
  for w in "$@"; do
    # Instances of the same worker share its consumer group (scale-out); name them w, w.2, ...
    k=$((k + 1))
    local name=$w
    for n in "${names[@]}"; do [ "${n%%.*}" = "$w" ] && name="$w.$k"; done
    names+=("$name")
    "$BIN/cs-$w" --pg-dsn "$(wdsn "$db" "$w")" --group "$(grp "$tag" "$w")" --metrics-port -1 \
      --log-level info 2>"$RUN/$tag-$name.log" &
    wp+=($!)
    pids+=($!)
  done
  local done_at="" t i p nap=0.25
  while [ -z "$done_at" ]; do
    sleep "$nap"
    t=$(now)
    i=0
    for name in "${names[@]}"; do
      p=${wp[$i]}
      [ -r "/proc/$p/status" ] || { echo "cs-${name%%.*} exited during the drain: see $RUN/$tag-$name.log" >&2; exit 1; }
      rss[$name]=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo "${rss[$name]:-0}")
      i=$((i + 1))
    done
    if [ "$(echo "$t - $start > 3600" | bc)" = 1 ]; then
      echo "not drained after an hour: see $RUN/$tag-*.log" >&2
      exit 1
    fi
    local all_topics=() ready=1
    for w in "${kinds[@]}"; do
      if [ -z "${topics[$w]:-}" ]; then
        topics[$w]=$(cat "$RUN/$tag-$w".log "$RUN/$tag-$w".*.log 2>/dev/null | grep '"partition assigned"' |
          sed -E 's/.*"topic":"([^"]*)".*/\1/' | sort -u | tr '\n' ' ' || true)
      fi
      [ -n "${topics[$w]}" ] || ready=0
      all_topics+=(${topics[$w]})
    done
    [ "$ready" = 1 ] || continue
    local look ends
    look=$(psql "$BASE/$db" -qAt -F ' ' -v ON_ERROR_STOP=1 \
      -c "SELECT consumer_group, topic, sum(next_offset) FROM consumer_offsets GROUP BY 1, 2" \
      -c "SELECT 'outbox', count(*) FROM outbox_events")
    ends=$(end_offsets $(printf '%s\n' "${all_topics[@]}" | sort -u))
    # A look costs ~15 ms of CPU (kcat, the broker, psql and its backend): one a second while no
    # group is near its end (under 90% there), four a second otherwise, for the finish times.
    local all=1
    nap=1
    for w in "${kinds[@]}"; do
      local c e
      read -r c e < <(awk -v g="$(grp "$tag" "$w")" -v ts=" ${topics[$w]}" '
        FILENAME == ARGV[1] { if ($1 == g) c[$2] = $3; next }
        FILENAME == ARGV[2] { s[$1] = $2; next }
        index(ts, " " $1 " ") { e += $2 - s[$1]; cc += c[$1] - s[$1] }
        END { printf "%d %d\n", cc, e }' <(echo "$look") <(echo "$from") <(echo "$ends"))
      # At the end: finished at this look, unless it was at the end at the look before and has
      # not moved since (a worker may read what arrived between two looks).
      [ "$c" != "$e" ] && [ "$((c * 10))" -ge "$((e * 9))" ] && nap=0.25
      if [ "$c" = "$e" ]; then
        [ -n "${fin[$w]:-}" ] && [ "$c" = "${tot_c[$w]}" ] || fin[$w]=$t
      else
        fin[$w]="" all=0
      fi
      tot_c[$w]=$c tot_e[$w]=$e
    done
    [ "$all" = 1 ] && [ "$(echo "$look" | awk '$1 == "outbox" {print $2}')" = 0 ] && done_at=$t
  done
  i=0
  for name in "${names[@]}"; do
    cus[$name]=$(pid_cpu "${wp[$i]}")
    i=$((i + 1))
  done
  local pgc
  pgc=$(pg_cpu_since "$pg0")
  for p in "${wp[@]}"; do kill -TERM "$p"; done
  for p in "${wp[@]}"; do wait "$p" || { echo "a worker failed to stop: see $RUN/$tag-*.log" >&2; exit 1; }; done
  local t_from
  t_from=$(for name in "${names[@]}"; do grep -m1 '"partition assigned"' "$RUN/$tag-$name.log"; done | sort | head -1 | log_epoch)
  printf '%s %s %s' "$(echo "$done_at - $t_from" | bc -l)" "$(echo "$done_at - $start" | bc -l)" "$pgc"
  for name in "${names[@]}"; do printf ' %s=%s:%s' "$name" "${rss[$name]:-0}" "${cus[$name]}"; done
  for w in "${kinds[@]}"; do printf ' %s@%s:%s:%s' "$w" "$(echo "${fin[$w]} - $t_from" | bc -l)" "${tot_c[$w]}" "${tot_e[$w]}"; done
  echo
}

# Events cs-audit and cs-progress accounted for in database $1 under consumer group $3: cs-audit
# one system_logs row per event it logged, cs-progress one processed_events id per event; plus the
# dead letters of the group. Equal to the events of their topics (the end offsets) when nothing was
# lost. cs-readiness (no effect ledger) and cs-matcher (a shared effect scope) keep no row per
# event: for them the drain's committed offsets are the whole account.
accounted() {
  local db=$1 w=$2 group=$3 q
  case "$w" in
    audit) q="SELECT (SELECT count(*) FROM system_logs)" ;;
    progress) q="SELECT (SELECT count(*) FROM processed_events WHERE consumer_group = '$group')" ;;
    *) return 0 ;;
  esac
  psql "$BASE/$db" -qAt -v ON_ERROR_STOP=1 -c "$q + (SELECT count(*) FROM dead_letters WHERE consumer_group = '$group')"
}

warm_json=""
if [ "$WARM" = 1 ]; then
  echo "== warming the broker (--warm-broker)"
  mapfile -t wtopics < <(awk '$1 ~ /^cs\./ && $1 !~ /\.dlq$/ && $1 != "cs.derived" {print $1}' "$RUN/partitions")
  t0=$(now)
  c0=$(broker_cpu)
  wn=$(kcat -b "$BROKERS" -G "bench-warm-$$" -X auto.offset.reset=earliest -e -q -f '\n' \
    "${wtopics[@]}" | wc -l)
  t1=$(now)
  warm_cpu=$(echo "$(broker_cpu) - $c0" | bc -l)
  [ "$wn" -eq "$EVENTS" ] || { echo "bench/pipeline.sh: the warm-up read $wn events, not $EVENTS" >&2; exit 1; }
  printf 'warm-up: one consumer group read %d events in %.1f s, broker CPU %.1f s (in no drain)\n' \
    "$wn" "$(echo "$t1 - $t0" | bc -l)" "$warm_cpu"
  warm_json=$(printf '"warm_broker":{"events":%d,"seconds":%.2f,"broker_cpu_seconds":%.2f},' \
    "$wn" "$(echo "$t1 - $t0" | bc -l)" "$warm_cpu")
fi

if [ "$WARM_DRAIN" = 1 ]; then
  echo "== warm-up drain (--warm-drain): all workers, not counted"
  fresh_db bench_warm
  c0=$(broker_cpu)
  th0=$(broker_threads)
  out=$(drain_run bench_warm warm $WORKERS)
  bcpu=$(echo "$(broker_cpu) - $c0" | bc -l)
  read -r secs _ <<<"$out"
  bthreads=$(broker_threads_since "$th0" "$bcpu")
  printf 'warm-up drain: %.1f s, broker CPU %.1f s (in no result)\n' "$secs" "$bcpu"
  print_threads "$bthreads"
  warm_json="$warm_json$(printf '"warm_drain":{"seconds":%.2f,"broker_cpu_seconds":%.2f,"broker_threads_cpu_seconds":{%s}},' \
    "$secs" "$bcpu" "$bthreads")"
  psqla -c "DROP DATABASE IF EXISTS bench_warm WITH (FORCE)"
fi

declare -A drain_s drain_rss
json_runs=""
lost_total=0
# Each worker alone, all together, then each worker scaled out to two consumers of its group.
configs="$WORKERS all"
for w in $WORKERS; do configs="$configs ${w}x2"; done
[ -z "$CONFIGS" ] || configs=$CONFIGS
for cfg in $configs; do
  case "$cfg" in
    all) set -- $WORKERS ;;
    all+*x2) w=${cfg#all+}; set -- $WORKERS "${w%x2}" ;;
    *x2) set -- "${cfg%x2}" "${cfg%x2}" ;;
    *) set -- "$cfg" ;;
  esac
  [ "$cfg" = all ] && [ $# -lt 2 ] && continue
  echo "== drain: $cfg"
  fresh_db bench_run
  c0=$(broker_cpu)
  th0=$(broker_threads)
  out=$(drain_run bench_run "$cfg" "$@")
  bcpu=$(echo "$(broker_cpu) - $c0" | bc -l)
  read -r secs wall pgcpu rest <<<"$out"
  rate=$(echo "$EVENTS / $secs" | bc -l)
  drain_s[$cfg]=$secs
  printf '%-10s %8.1f s %10.0f events/s (%.1f s with start and group join; CPU: broker %.1f s = %.0f%% of one core, PostgreSQL %.1f s)\n' \
    "$cfg" "$secs" "$rate" "$wall" "$bcpu" "$(echo "100 * $bcpu / $wall" | bc -l)" "$pgcpu"
  bthreads=$(broker_threads_since "$th0" "$bcpu")
  print_threads "$bthreads"
  rss_json="" cpu_json="" fin_json="" off_json="" acc_json="" wcpu=0
  for kv in $rest; do
    case "$kv" in
      *@*) # worker@finish:committed:end
        w=${kv%%@*}
        IFS=: read -r f c e <<<"${kv#*@}"
        printf '   cs-%-10s drained at %6.1f s: committed the offsets of %d of the %d events of its topics' "$w" "$f" "$c" "$e"
        fin_json="$fin_json${fin_json:+,}\"$w\":$(num "$f")"
        off_json="$off_json${off_json:+,}\"$w\":{\"committed\":$c,\"end\":$e}"
        n=$(accounted bench_run "$w" "$(grp "$cfg" "$w")")
        if [ -n "$n" ]; then
          printf ', accounted for %d events' "$n"
          acc_json="$acc_json${acc_json:+,}\"$w\":$n"
          if [ "$n" -ne "$e" ]; then
            printf '\n   LOSS: cs-%s accounted for %d of the %d events of its topics (%d missing)' "$w" "$n" "$e" "$((e - n))"
            lost_total=$((lost_total + e - n))
          fi
        fi
        echo ;;
      *) # name=rss:cpu
        name=${kv%%=*}
        IFS=: read -r r cpu <<<"${kv#*=}"
        printf '   %-14s peak RSS %6.1f MiB, CPU %6.1f s\n' "$name" "$(echo "$r / 1024" | bc -l)" "$cpu"
        rss_json="$rss_json${rss_json:+,}\"$name\":$r"
        cpu_json="$cpu_json${cpu_json:+,}\"$name\":$cpu"
        wcpu=$(echo "$wcpu + $cpu" | bc -l) ;;
    esac
  done
  printf '   CPU of workers, PostgreSQL and broker: %.1f s in %.1f s (%.0f%% of the machine'"'"'s %d cores)\n' \
    "$(echo "$wcpu + $pgcpu + $bcpu" | bc -l)" "$wall" "$(echo "100 * ($wcpu + $pgcpu + $bcpu) / $wall / $(nproc)" | bc -l)" "$(nproc)"
  json_runs="$json_runs${json_runs:+,}{\"workers\":\"$cfg\",\"seconds\":$(num "$secs"),\"wall_seconds\":$(num "$wall"),\"broker_cpu_seconds\":$(num "$bcpu"),\"broker_threads_cpu_seconds\":{$bthreads},\"postgres_cpu_seconds\":$(num "$pgcpu"),\"events_per_s\":$(num "$rate"),\"finished_s\":{$fin_json},\"peak_rss_kib\":{$rss_json},\"cpu_seconds\":{$cpu_json},\"offsets\":{$off_json},\"accounted\":{$acc_json}}"
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

lat_json=""
# The latency run gives each worker the topics of its own drain: it needs those drains.
lat_ok=1
for w in $WORKERS; do case " $configs " in *" $w "*) ;; *) lat_ok=0 ;; esac; done
if [ "$LAT_EVENTS" -gt 0 ] && [ "$lat_ok" = 1 ]; then
  echo "== latency at a steady $RATE events/s ($LAT_EVENTS events, all workers running)"
  fresh_db bench_lat
  prefix="lat.$$."
  # Create the topics before the workers subscribe (auto-created on first metadata request).
  "$BIN/cs-loadgen" --seed 7 --learners 1000 --days 0 --events 200 --publish --topic-prefix "$prefix" 2>/dev/null
  port=19300
  declare -A wport
  lat_pids=()
  for w in $WORKERS; do
    port=$((port + 1))
    wport[$w]=$port
    # Each worker its own topics (those of its drain alone), prefixed; derived events go to the
    # prefixed cs.derived, where cs-matcher and cs-audit read them.
    topics=$(grep '"partition assigned"' "$RUN/$w-$w.log" | sed -E 's/.*"topic":"([^"]*)".*/'"$prefix"'\1/' | sort -u | paste -sd,)
    derived=()
    "$BIN/cs-$w" --help 2>&1 | grep -q -- --derived-topic && derived=(--derived-topic "${prefix}cs.derived")
    # cs-readiness and cs-matcher keep their own batch wait (a second: their cost is per batch).
    bm=(--batch-ms 5)
    case $w in readiness | matcher) bm=() ;; esac
    "$BIN/cs-$w" --pg-dsn "$(wdsn bench_lat "$w")" --group "$(grp lat "$w")" --topics "$topics" "${derived[@]}" \
      --metrics-port "$port" "${bm[@]}" 2>"$RUN/lat-$w.log" &
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
  for w in $WORKERS; do
    curl -s "http://127.0.0.1:${wport[$w]}/metrics" >"$RUN/lat-$w.metrics"
    # p50/p99 of the events committed between the two scrapes (bench/lib.sh).
    read -r p50 p99 _ n < <(e2e_quantiles "$RUN/lat-$w.before" "$RUN/lat-$w.metrics")
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
else
  echo "== latency: not measured (--latency-events 0, or --configs without each worker's own drain)"
  psqla -c "DROP DATABASE IF EXISTS bench_run WITH (FORCE)"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/pipeline-$stamp.json
cat >"$out" <<JSON
{"benchmark":"pipeline","when":"$stamp","host":"$(uname -n)","cores":$(nproc),
 "events":$EVENTS,"broker":"apache-kafka-$KAFKA_VERSION","publish_events_per_s":$(num "$pub_rate"),"publish_broker_cpu_seconds":$(num "$pub_cpu"),"publish_broker_threads_cpu_seconds":{$pub_threads},"publish_linger_ms":${PUB_LINGER:-null},"assignment_strategy":$ASSIGN_JSON,"events_lost":$lost_total,
 $warm_json"drain":[$json_runs],
 "audit_vs_copy":$copy_json,
 "latency":{"rate_per_s":$RATE,"events":$LAT_EVENTS,"workers":{$lat_json}}}
JSON
echo "wrote $out"
