#!/usr/bin/env bash
# tests/integration/0080-broker_failover.sh
#      A broker killed -9 mid-run loses nothing and applies nothing twice: on a 3-node cluster of
#      its own (replication 3, min.insync.replicas 2), the same cs-loadgen stream (same seed, so
#      the same events and event ids) is run twice into two fresh databases, once undisturbed (A)
#      and once (B) with a node (the active controller's) killed -9 and restarted while
#      cs-loadgen publishes (acks=all, idempotent) and cs-progress and cs-audit consume. Then:
#       - cs-loadgen exited 0 with every event acknowledged, in both runs;
#       - every log holds each message once (the topics' end offsets add up to the events sent);
#       - B's effects equal A's: every cs-progress table row by row (ids and values; only
#         insert-time columns and generated keys left out), processed_events (one per valid
#         event, the same ids), system_logs (one row per valid event, the same events at the same
#         partitions and offsets, no event id twice), `cs-audit verify` intact, and the dead
#         letters (exactly the malformed events cs-loadgen injects, the same ones in both runs);
#       - no worker logged an error (but connection failures) or a fatal librdkafka error, and
#         both stopped cleanly (SIGTERM, exit 0);
#       - the restarted node is running (how far it is back in the ISRs is printed).
#      The dead-letter topics hold every dead letter of both groups (a duplicate is counted: a
#      batch whose dead letters' publication timed out is retried, so they are at least once).
#      It prints how long the producer's acknowledgements stalled and how long each worker's
#      committed offsets stood still around the kill, and the total time.
#
#      Knobs: CS_FAILOVER_EVENTS (40000), CS_FAILOVER_RATE (2000 events/s in the disturbed run,
#      so that it outlasts the outage), CS_FAILOVER_NODE (controller: the active controller's
#      node; or 1, 2, 3), CS_FAILOVER_DOWN_S (4: seconds the node stays dead),
#      CS_FAILOVER_KEEP=DIR (keeps the logs, samples and node logs there).
#
#      BUILD_BIN_DIR holds cs-loadgen, cs-progress and cs-audit; CS_PG_DSN is the shared
#      PostgreSQL with a migrated cs_template. The cluster (CS_KAFKA_DIR in a temporary directory)
#      and both databases are destroyed on every path.
set -euo pipefail
BIN=${1:?usage: 0080-broker_failover.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0080
EVENTS=${CS_FAILOVER_EVENTS:-40000}
RATE=${CS_FAILOVER_RATE:-2000}
LEARNERS=2000
MENTORS=200
SEED=80
MALFORMED=0.002
KILL_NODE=${CS_FAILOVER_NODE:-controller} # a node number, or the active controller's node
DOWN_S=${CS_FAILOVER_DOWN_S:-4}

export CS_KAFKA_DIR=$T/kafka CS_TOPICS_FILE=$T/topics.json
DBA=t_failover_a_$$
DBB=t_failover_b_$$
DSNA=$(it_dsn "$DBA")
DSNB=$(it_dsn "$DBB")

cleanup() {
  local rc=$? i
  it_kill_pids
  if [ -n "${CS_FAILOVER_KEEP:-}" ]; then
    for i in 1 2 3; do cp "$CS_KAFKA_DIR/node-$i/server.log" "$T/server-$i.log" 2>/dev/null || true; done
  fi
  it_kafka_down 3 "$rc"
  it_db_drop
  if [ -n "${CS_FAILOVER_KEEP:-}" ]; then rm -rf "$CS_FAILOVER_KEEP"; cp -r "$T" "$CS_FAILOVER_KEEP"; fi
  rm -rf "$T"
  echo "total: $(( ($(now_ms) - T0) / 1000 )) s" >&2
}
trap cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT

# Two sets of the topics of schemas/topics.json, "ref." for the undisturbed run and "dis." for the
# disturbed one, created when the cluster starts. With an eighth of the partitions (at least 4; 2
# per dead-letter topic): 3 nodes replicating 2 x 214 partitions 3 times cost a 2-core machine
# more than the test itself, and the outcome does not depend on the count.
python3 - "$ROOT/schemas/topics.json" "$CS_TOPICS_FILE" <<'PY'
import json, sys
src = json.load(open(sys.argv[1]))
out = []
for prefix in ("ref.", "dis."):
    for t in src["topics"]:
        t = json.loads(json.dumps(t))
        t["name"] = prefix + t["name"]
        t["partitions"] = max(4, t["partitions"] // 8)
        if "dead_letter" in t:
            t["dead_letter"]["name"] = prefix + t["dead_letter"]["name"]
            t["dead_letter"]["partitions"] = 2
        out.append(t)
src["topics"] = out
json.dump(src, open(sys.argv[2], "w"), indent=1)
PY
it_kafka_start --brokers 3
export CS_KAFKA_BROKERS=$BROKERS
say "cluster: 3 nodes at $BROKERS, up after $(( ($(now_ms) - T0) / 1000 )) s"

it_db "$DBA" "$DBB"

# worker and loadgen are run with & (the job is then the program itself: they exec).
worker() { # worker NAME DSN PREFIX LOG [options...]
  local name=$1 dsn=$2 prefix=$3 log=$4 topics
  shift 4
  topics=$(progress_topics "$prefix")
  [ "$name" = progress ] || topics=$(progress_topics "$prefix" cs.derived) # cs-audit's
  # Each run's audit anchors on a topic of its own (outside the run's prefix, whose topics are
  # counted): verify compares one database with them.
  # The default 10 s session: a member whose session expires during the coordinator's failover
  # rejoins and must consume again (it once sat assigned, paused: test 0083).
  CS_ANCHOR_TOPIC="anchors-${prefix}" exec "$BIN/cs-$name" --pg-dsn "$dsn" --kafka-brokers "$BROKERS" \
    --topics "$topics" --group "${prefix}cs-$name" --log-level info \
    "$@" >"$log" 2>&1
}
loadgen() { # loadgen PREFIX LOG [options...]
  local prefix=$1 log=$2
  shift 2
  exec "$BIN/cs-loadgen" --seed $SEED --learners $LEARNERS --mentors $MENTORS --days 0 --events "$EVENTS" \
    --malformed $MALFORMED --publish --kafka-brokers "$BROKERS" --topic-prefix "$prefix" "$@" 2>"$log"
}
# Checks a finished cs-loadgen log: every event acknowledged. Prints the malformed count.
loadgen_ok() {
  local log=$1 rc=$2 last
  [ "$rc" -eq 0 ] || { tail -n 20 "$log" >&2; fail "cs-loadgen exited $rc"; }
  last=$(grep '"msg":"done"' "$log") || { tail -n 20 "$log" >&2; fail "cs-loadgen did not finish"; }
  [[ "$last" == *"\"events\":$EVENTS,"* && "$last" == *"\"delivered\":$EVENTS}"* ]] \
    || fail "cs-loadgen did not have every event acknowledged: $last"
  sed -n 's/.*"malformed":\([0-9]*\).*/\1/p' <<<"$last"
}
# The worker logged no error and no fatal librdkafka error (those of its dead-letter producer are
# logged as warnings). Connection failures to the killed node are expected: librdkafka logs them
# as errors (facility FAIL).
worker_log_ok() {
  if grep -E '"level":"(fatal|error)"|[Ff]atal error' "$1" | grep -v '"facility":"FAIL"' >"$T/errors"; then
    head -n 5 "$T/errors" >&2
    fail "$(basename "$1"): $(wc -l <"$T/errors") error lines"
  fi
}

# ---- one run: cs-loadgen publishes while both workers consume; optionally node KILL_NODE dies --
# Committed offsets of both groups of a run: "progress audit".
offsets() { # offsets DSN PREFIX
  q "$1" "SELECT coalesce(sum(next_offset) FILTER (WHERE consumer_group = '${2}cs-progress'), 0)
             || ' ' || coalesce(sum(next_offset) FILTER (WHERE consumer_group = '${2}cs-audit'), 0)
             FROM consumer_offsets"
}
# Samples them every 200 ms or so into SAMPLES: "ms progress audit".
sampler() {
  while :; do
    echo "$(now_ms) $(offsets "$1" "$2" 2>/dev/null || echo '- -')"
    sleep 0.2
  done >"$SAMPLES"
}
last_sample() { local l; l=$(tail -n 1 "$SAMPLES" 2>/dev/null) || true; echo "${l:-0 0 0}"; }

# run NAME PREFIX DSN KILL [cs-loadgen options]: sets BAD (malformed events injected) and the
# times T_START, T_KILL, T_RESTART, T_GEN (every event acknowledged), T_CAUGHT (all committed).
run() {
  local name=$1 prefix=$2 dsn=$3 kill=$4 po ao rc p pw aw gw sw deadline
  shift 4
  SAMPLES=$T/samples-$name
  T_START=$(now_ms)
  sampler "$dsn" "$prefix" &
  sw=$!; PIDS+=("$sw")
  worker progress "$dsn" "$prefix" "$T/progress-$name.log" &
  pw=$!; PIDS+=("$pw")
  worker audit "$dsn" "$prefix" "$T/audit-$name.log" &
  aw=$!; PIDS+=("$aw")
  loadgen "$prefix" "$T/gen-$name.log" "$@" &
  gw=$!; PIDS+=("$gw")

  if [ "$kill" = 1 ]; then
    # Once a fifth of the stream is committed by cs-progress: producer and consumers are busy.
    deadline=$(($(now_ms) + 60000 * MULT))
    while :; do
      read -r _ po _ < <(last_sample)
      [[ "$po" =~ ^[0-9]+$ ]] && [ "$po" -ge $((EVENTS / 5)) ] && break
      kill -0 "$gw" 2>/dev/null || fail "$name: cs-loadgen ended before the kill"
      [ "$(now_ms)" -lt "$deadline" ] || fail "$name: cs-progress did not commit $((EVENTS / 5)) events in 60 s"
      sleep 0.1
    done
    kill -0 "$gw" 2>/dev/null || fail "$name: cs-loadgen ended before the kill"
    led=$(kcat -L -b "$BROKERS" 2>/dev/null | awk -v p="\"$prefix" -v n="$KILL_NODE," \
      '$1 == "topic" {t = $2} $1 == "partition" && index(t, p) == 1 && $4 == n {c++} END {print c + 0}')
    [ "$led" -gt 0 ] || fail "$name: node $KILL_NODE leads no partition of the run's topics"
    T_KILL=$(now_ms)
    "$KAFKA" kill "$KILL_NODE"
    say "$name: node $KILL_NODE (leader of $led of the run's partitions) killed -9 at" \
      "+$(( (T_KILL - T_START) / 1000 )) s, $po events committed by cs-progress"
    sleep "$DOWN_S"
    "$KAFKA" start-node "$KILL_NODE"
    T_RESTART=$(now_ms)
    say "$name: node $KILL_NODE started again at +$(( (T_RESTART - T_START) / 1000 )) s"
  fi

  rc=0; wait "$gw" || rc=$?
  T_GEN=$(now_ms)
  BAD=$(loadgen_ok "$T/gen-$name.log" "$rc")

  # Both groups commit every message (malformed ones included): each offset sum reaches EVENTS.
  deadline=$(($(now_ms) + 90000 * MULT))
  while :; do
    read -r _ po ao < <(last_sample)
    [[ "$po" =~ ^[0-9]+$ && "$ao" =~ ^[0-9]+$ ]] && [ "$po" -ge "$EVENTS" ] && [ "$ao" -ge "$EVENTS" ] && break
    for p in "$pw" "$aw"; do kill -0 "$p" 2>/dev/null || fail "$name: a worker died (see its log)"; done
    # A librdkafka client in a fatal state never recovers: the worker would retry forever.
    for p in progress audit; do
      if grep -m1 -E 'Fatal error|fatal error' "$T/$p-$name.log" >"$T/fatal"; then
        cut -c1-600 "$T/fatal" >&2
        fail "$name: cs-$p's Kafka client hit a fatal error and cannot recover (committed: progress $po, audit $ao)"
      fi
    done
    [ "$(now_ms)" -lt "$deadline" ] || {
      tail -n 5 "$T/progress-$name.log" "$T/audit-$name.log" >&2
      fail "$name: the workers did not catch up in 90 s (committed: progress $po, audit $ao of $EVENTS)"
    }
    sleep 0.2
  done
  T_CAUGHT=$(now_ms)
  sleep 1 # a message beyond EVENTS (a duplicate in a log) would be committed by now
  kill "$sw" 2>/dev/null || true
  for p in "$pw" "$aw"; do kill -TERM "$p"; done
  rc=0; wait "$pw" || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 20 "$T/progress-$name.log" >&2; fail "$name: cs-progress exited $rc on SIGTERM"; }
  rc=0; wait "$aw" || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 20 "$T/audit-$name.log" >&2; fail "$name: cs-audit exited $rc on SIGTERM"; }
  worker_log_ok "$T/progress-$name.log"
  worker_log_ok "$T/audit-$name.log"
  read -r po ao < <(offsets "$dsn" "$prefix")
  [ "$po" -eq "$EVENTS" ] && [ "$ao" -eq "$EVENTS" ] \
    || fail "$name: committed offsets add up to $po (cs-progress) and $ao (cs-audit), expected $EVENTS each"
  say "$name: $EVENTS events ($BAD malformed) acknowledged after $(( (T_GEN - T_START) / 1000 )) s," \
    "all committed by both workers after $(( (T_CAUGHT - T_START) / 1000 )) s"
}

# Which node is the active controller (asked during run A: the tool is a JVM of its own).
if [ "$KILL_NODE" = controller ]; then
  "$KAFKA" tool metadata-quorum describe --status >"$T/quorum" 2>&1 &
  quorum_pid=$!; PIDS+=("$quorum_pid")
fi
# A: undisturbed, as fast as the machine goes.
run A ref. "$DSNA" 0
T_START_A=$T_START
BAD_A=$BAD
[ "$BAD_A" -gt 0 ] || fail "cs-loadgen injected no malformed event"
VALID=$((EVENTS - BAD_A))
# B: the same stream at RATE events/s (so that it outlasts the outage), node KILL_NODE killed:
# by default the active controller's node (it leads partitions too), the harder case: a new
# controller is elected before the dead broker is fenced and its partitions get new leaders.
if [ "$KILL_NODE" = controller ]; then
  wait "$quorum_pid" || { cat "$T/quorum" >&2; fail "metadata-quorum"; }
  KILL_NODE=$(sed -n 's/^LeaderId: *\([0-9]*\)$/\1/p' "$T/quorum")
  [[ "$KILL_NODE" =~ ^[1-3]$ ]] || { cat "$T/quorum" >&2; fail "no active controller found"; }
  say "B: the active controller is node $KILL_NODE"
fi
run B dis. "$DSNB" 1 --rate "$RATE"
[ "$BAD" -eq "$BAD_A" ] || fail "the disturbed run injected $BAD malformed events, the reference $BAD_A"

# Each log holds every message exactly once: the end offsets add up to what was sent.
for p in ref dis; do
  args=$(kcat -L -b "$BROKERS" | awk -v p="$p." '$1 == "topic" {t = substr($2, 2, length($2) - 2)}
    $1 == "partition" && index(t, p) == 1 && t !~ /\.dlq$/ {sub(",", "", $2); printf "-t %s:%s:-1 ", t, $2}')
  [ -n "$args" ] || fail "no $p.* partitions in the metadata"
  # shellcheck disable=SC2086 # one word per argument
  n=$(kcat -Q -b "$BROKERS" $args 2>"$T/kcat.err" | awk '$3 == "offset" {s += $4} END {print s + 0}')
  [ "$n" -eq "$EVENTS" ] || fail "the $p.* topics hold $n messages, $EVENTS were sent"
done
say "logs: ok (each set of topics holds exactly $EVENTS messages)"

# The dead-letter topics hold every dead letter of both groups: none lost (a batch retried after
# its dead letters' publication timed out may have put some there twice: at least once, counted).
for p in ref dis; do
  kpids=()
  for t in $(progress_topics "$p." cs.derived | tr , ' '); do
    kcat -C -b "$BROKERS" -t "$t.dlq" -o beginning -e -q -f '%h\n' >"$T/dlq-$t" 2>/dev/null &
    kpids+=("$!")
  done
  for k in "${kpids[@]}"; do wait "$k" || true; done
  cat "$T"/dlq-"$p".* >"$T/dlq-$p"
  total=$(grep -c . "$T/dlq-$p" || true)
  distinct=$(sed -n 's/.*cs-original-topic=\([^,]*\),cs-original-partition=\([0-9]*\),cs-original-offset=\([0-9]*\),.*cs-group=\([^,]*\),.*/\4 \1 \2 \3/p' \
    "$T/dlq-$p" | sort -u | wc -l)
  [ "$distinct" -eq $((2 * BAD)) ] \
    || fail "the $p.*.dlq topics hold $distinct distinct dead letters, expected $((2 * BAD)) (both groups)"
  say "dead-letter topics ($p): ok ($distinct dead letters, $((total - distinct)) published twice)"
done

# ---- the figures ------------------------------------------------------------------------------
# figures NAME REF_MS WHAT: the longest time the producer's acknowledged count (cs-loadgen's progress
# lines, 1 s apart) and each group's committed offsets (the samples) stood still in run NAME, from
# the first increase to the end, and when that began relative to REF_MS. Rough, for the report.
figures() {
  python3 - "$T/gen-$1.log" "$T/samples-$1" "$2" "$EVENTS" "$1" "$3" <<'PY' || true
import datetime, json, sys
gen, samples, ref, events, name, what = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
def wall_ms(ts):
    d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000)
def longest_flat(pts):
    best, start, val = (0, 0), None, None
    for t, v in pts:
        if v == 0:
            continue
        if val is None:
            start, val = t, v
        elif v != val:
            if t - start > best[0]:
                best = (t - start, start)
            start, val = t, v
        if v >= events:
            break
    return best
acks = []
for line in open(gen):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("msg") in ("progress", "done"):
        acks.append((wall_ms(j["ts"]), j["fields"].get("delivered", 0)))
out = []
d, s = longest_flat(acks)
out.append("producer acknowledgements %.1f s (at %+.0f s)" % (d / 1000, (s - ref) / 1000))
for col, worker in ((1, "cs-progress"), (2, "cs-audit")):
    pts = [(int(f[0]), int(f[col])) for f in (l.split() for l in open(samples)) if len(f) == 3 and f[col].isdigit()]
    d, s = longest_flat(pts)
    out.append("%s commits %.1f s (at %+.0f s)" % (worker, d / 1000, (s - ref) / 1000))
print("%s: longest stand-still: %s; times relative to %s" % (name, ", ".join(out), what))
PY
}
figures A "$T_START_A" "the start of run A"
figures B "$T_KILL" "the kill"

# ---- B's effects equal A's --------------------------------------------------------------------
# cs-progress' tables, row by row (progress_state, lib.sh).
progress_state "$DSNA" >"$T/state-a"
progress_state "$DSNB" >"$T/state-b"
[ "$(wc -l <"$T/state-a")" -gt "$LEARNERS" ] || fail "cs-progress wrote only $(wc -l <"$T/state-a") rows in A"
if ! cmp -s "$T/state-a" "$T/state-b"; then
  diff "$T/state-a" "$T/state-b" | head -n 10 | cut -c1-300 >&2
  fail "cs-progress' tables differ between the undisturbed and the disturbed run"
fi
say "cs-progress tables: equal ($(wc -l <"$T/state-a") rows in $(cut -d' ' -f1 "$T/state-a" | uniq | wc -l) tables)"

for run in A B; do
  if [ $run = A ]; then dsn=$DSNA p=ref.; else dsn=$DSNB p=dis.; fi
  n=$(q "$dsn" "SELECT count(*) || ' ' || count(DISTINCT event_id) FROM processed_events WHERE consumer_group = '${p}cs-progress'")
  [ "$n" = "$VALID $VALID" ] || fail "$run: processed_events holds '$n' (rows, distinct ids), expected $VALID each"
  n=$(q "$dsn" "SELECT count(*) || ' ' || count(DISTINCT event_id) FROM system_logs")
  [ "$n" = "$VALID $VALID" ] || fail "$run: system_logs holds '$n' (rows, distinct event ids), expected $VALID each"
  for g in progress audit; do
    n=$(q "$dsn" "SELECT count(*) FROM dead_letters WHERE consumer_group = '${p}cs-$g'")
    [ "$n" -eq "$BAD" ] || fail "$run: cs-$g dead-lettered $n events, cs-loadgen injected $BAD malformed ones"
  done
  CS_ANCHOR_TOPIC="anchors-${p}" "$BIN/cs-audit" verify --pg-dsn "$dsn" --kafka-brokers "$BROKERS" >"$T/verify-$run" || { cat "$T/verify-$run" >&2; fail "$run: cs-audit verify"; }
  grep -q "intact: $VALID rows" "$T/verify-$run" || { cat "$T/verify-$run" >&2; fail "$run: verify did not check $VALID rows"; }
done
same() { # same WHAT SQL-with-PREFIX: the query's rows are equal in A and B
  q "$DSNA" "${2//PREFIX/ref.}" >"$T/same-a"
  q "$DSNB" "${2//PREFIX/dis.}" >"$T/same-b"
  if ! cmp -s "$T/same-a" "$T/same-b"; then
    diff "$T/same-a" "$T/same-b" | head -n 10 | cut -c1-300 >&2
    fail "$1 differ between the undisturbed and the disturbed run"
  fi
}
same "processed event ids" "SELECT event_id FROM processed_events ORDER BY 1"
same "system_logs rows" "SELECT event_id, event_type, user_id, occurred_at, replace(source_topic, 'PREFIX', ''),
  source_partition, source_offset, producer, traceparent, payload_sha256, replace(chain_key, 'PREFIX', ''), chain_seq
  FROM system_logs ORDER BY source_topic, source_partition, source_offset"
same "dead letters" "SELECT replace(consumer_group, 'PREFIX', ''), worker, replace(topic, 'PREFIX', ''), kafka_partition,
  kafka_offset, error_class, replace(reason, 'PREFIX', ''), event_id FROM dead_letters ORDER BY 1, 3, 4, 5"
say "effects: equal ($VALID events applied once by each worker, $BAD dead letters each, audit log intact, in both runs)"

# The restarted node is running (its JVM takes 10-40 s to start on a loaded machine, so it is not
# waited for: only a node that died again fails the test); how far it is back is printed.
read -r _ kport <"$CS_KAFKA_DIR/ports-$KILL_NODE"
if grep -q "Address already in use" "$CS_KAFKA_DIR/node-$KILL_NODE/server.log" 2>/dev/null; then
  fail "node $KILL_NODE could not bind its port 127.0.0.1:$kport again (another connection took it while the node was dead)"
fi
"$KAFKA" status >"$T/status" 2>&1 || true
grep -qx "node $KILL_NODE: running" "$T/status" || { cat "$T/status" >&2; fail "node $KILL_NODE is not running after its restart"; }
out=$(kcat -L -b "127.0.0.1:$kport" -m 2 2>/dev/null | awk -v n="$KILL_NODE" '
  $1 == "partition" {all++; sub(/.*isrs: /, ""); if (index("," $0 ",", "," n ",")) isr++}
  END {print all + 0, isr + 0}') || true
read -r all isr <<<"${out:-0 0}"
if [ "$all" -gt 0 ]; then
  say "B: node $KILL_NODE running, in the ISR of $isr of $all partitions $(( ($(now_ms) - T_RESTART) / 1000 )) s after its restart"
else
  say "B: node $KILL_NODE running, still starting $(( ($(now_ms) - T_RESTART) / 1000 )) s after its restart"
fi
echo "1 passed, 0 failed"
