#!/usr/bin/env bash
# tests/integration/0083-rejoin_after_stall.sh
#      A worker whose group membership is lost while it backs off consumes again once it rejoins,
#      and a dead letter that cannot be published never holds the event loop.
#
#      On a single-node Apache Kafka of its own (the test stops it with SIGSTOP), one cs-testworker
#      (text events, 4 partitions, 6 s session) applies a first round of events. Then a batch with
#      a dead letter (a negative amount) is held in PostgreSQL (a trigger on dead_letters sleeps
#      once) while the broker is stopped, so the dead letter's publication cannot be acknowledged:
#      the worker backs off and pauses its partitions (the committer waits 1 s for the
#      acknowledgement, so it has given up before the session expires: a rebalance callback
#      waits for the committer, and this test measures the loop, not that wait). The broker stays stopped past the session
#      timeout: librdkafka takes the membership for lost, and the worker drops what it held for
#      its partitions; a retry finds nothing left to do meanwhile. The broker is continued, the
#      worker rejoins as a new member and gets its partitions back.
#      Then:
#       - every event of the test, produced before, during and after the stall, is applied
#         exactly once (rt_events, rt_counts), the dead letter is recorded once in dead_letters
#         and is in the .dlq topic, and the offsets stored cover every partition's end;
#       - the worker logged the lost partitions and their new assignment (so the case was met);
#       - while the broker was stopped the loop kept answering /healthz within 1 s (it never
#         sat in a dead-letter flush);
#       - the worker stops cleanly on SIGTERM (exit 0).
#      Before the fix (librdkafka 2.0.2 keeps a partition's application pause flag across its
#      loss and reassignment, and the runtime resumed only the partitions it held), the worker sat
#      assigned and consumed nothing.
#
#      BUILD_BIN_DIR holds cs-testworker; CS_PG_DSN is the shared PostgreSQL with a migrated
#      cs_template. The broker (CS_KAFKA_DIR in a temporary directory) and the database are
#      destroyed on every path. CS_REJOIN_KEEP=DIR keeps the logs.
set -euo pipefail
BIN=${1:?usage: 0083-rejoin_after_stall.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0083
SESSION_MS=6000 # the broker's group.min.session.timeout.ms

export CS_KAFKA_DIR=$T/kafka CS_TOPICS_FILE=$T/topics.json
DB=t_rejoin_$$
DSN="${CS_PG_DSN%/*}/$DB"
TOPIC=rt.rejoin
GROUP=rt-rejoin
PIDS=()
KPID=

cleanup() {
  local rc=$? p
  [ -n "$KPID" ] && kill -CONT "$KPID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "--- worker log (last 30 lines)" >&2
    tail -n 30 "$T/worker.log" 2>/dev/null | cut -c1-400 >&2 || true
  fi
  it_kafka_down 1
  psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${CS_REJOIN_KEEP:-}" ]; then rm -rf "$CS_REJOIN_KEEP"; cp -r "$T" "$CS_REJOIN_KEEP"; fi
  rm -rf "$T"
  echo "total: $(( ($(now_ms) - T0) / 1000 )) s" >&2
}
trap cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

cat >"$CS_TOPICS_FILE" <<EOF
{"version": 1, "key": "user_id", "topics": [
 {"name": "$TOPIC", "partitions": 4, "retention_ms": 86400000,
  "dead_letter": {"name": "$TOPIC.dlq", "partitions": 1}, "events": ["rt_add"]}]}
EOF
it_kafka_start
KPID=$(cat "$CS_KAFKA_DIR/node-1/pid")
say "broker up at $BROKERS"

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
q "CREATE TABLE rt_events (event_id uuid PRIMARY KEY, k text NOT NULL, amount int NOT NULL,
     topic text NOT NULL, kafka_partition int NOT NULL, kafka_offset bigint NOT NULL);
   CREATE TABLE rt_counts (k text PRIMARY KEY, n bigint NOT NULL, events bigint NOT NULL);
   CREATE TABLE rt_chain (k text NOT NULL, seq bigint NOT NULL, event_id uuid NOT NULL,
     PRIMARY KEY (k, seq));
   -- The first dead letter recorded holds its transaction 3 s (the broker is stopped meanwhile).
   CREATE SEQUENCE rt_dl_hold;
   CREATE FUNCTION rt_dl_hold() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
     IF nextval('rt_dl_hold') = 1 THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END \$\$;
   CREATE TRIGGER rt_dl_hold BEFORE INSERT ON dead_letters FOR EACH ROW EXECUTE FUNCTION rt_dl_hold()"

# Text events i in [from, to): event_id|user_id|rt_add|k<i%8>|amount (amount -1: a dead letter).
produce() { # produce FROM TO [BAD_I]
  local i
  for ((i = $1; i < $2; i++)); do
    printf '%08x-0000-4000-8000-%012x|00000000-0000-4000-9000-%012x|rt_add|k%d|%d\n' \
      $((i >> 16)) "$i" $((i % 8)) $((i % 8)) $([ "$i" = "${3:-}" ] && echo -1 || echo 1)
  done | kcat -P -b "$BROKERS" -t "$TOPIC" -X linger.ms=5 -X enable.idempotence=true 2>>"$T/kcat.err" \
    || fail "kcat could not produce events $1..$2"
}
committed() { q "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = '$GROUP'"; }
wait_committed() { # wait_committed TARGET SECONDS WHAT
  local deadline=$(($(now_ms) + $2 * 1000 * MULT)) c
  while :; do
    c=$(committed)
    [ "$c" -ge "$1" ] && return 0
    [ "$(now_ms)" -lt "$deadline" ] || fail "$3: $c of $1 offsets committed after $2 s"
    kill -0 "$WPID" 2>/dev/null || fail "$3: the worker died"
    sleep 0.2
  done
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CS_PG_DSN=$DSN CS_KAFKA_BROKERS=$BROKERS CS_FORMAT=text "$BIN/cs-testworker" --topics "$TOPIC" \
  --group "$GROUP" --session-timeout-ms "$SESSION_MS" --dlq-timeout-ms 1000 --retry-max-ms 1000 \
  --metrics-port "$PORT" --metrics-addr 127.0.0.1 --log-level debug ${CS_REJOIN_WORKER_ARGS:-} \
  2>"$T/worker.log" &
WPID=$!; PIDS+=("$WPID")

# Round 1: 200 events, all applied.
produce 0 200
wait_committed 200 60 "round 1"
say "round 1: 200 events applied"

# Round 2: 100 events with one dead letter (event 250). Its batch waits in the trigger; the
# broker is stopped before the transaction reaches the dead letter's publication.
produce 200 300 250
deadline=$(($(now_ms) + 30000 * MULT))
until [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = '$DB'")" -ge 1 ]; do
  [ "$(now_ms)" -lt "$deadline" ] || fail "the dead letter's batch never reached the trigger"
  sleep 0.05
done
kill -STOP "$KPID"
T_STOP=$(now_ms)
say "broker stopped (the dead letter's batch is held in PostgreSQL)"

# Stopped past the session timeout (librdkafka's own check: no heartbeat answered for a session).
# Meanwhile the loop must answer /healthz each time within 1 s.
slow=0 probes=0
while [ $(($(now_ms) - T_STOP)) -lt $((SESSION_MS + 7000)) ]; do
  t=$(now_ms)
  curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT/healthz" || true
  dt=$(($(now_ms) - t)); probes=$((probes + 1))
  [ "$dt" -le 1000 ] || { slow=$((slow + 1)); echo "healthz took $dt ms at +$(( (t - T_STOP) / 1000 )) s" >&2; }
  sleep 0.3
done
grep -q '"partitions lost' "$T/worker.log" || fail "the worker never took its partitions for lost (the case was not met)"
kill -CONT "$KPID"
say "broker continued after $(( ($(now_ms) - T_STOP) / 1000 )) s; $probes /healthz probes, $slow slower than 1 s"

# Round 3: 100 more events after the rejoin.
produce 300 400
# The end offsets (a query right after the broker's return may time out: asked again).
deadline=$(($(now_ms) + 30000 * MULT))
while :; do
  END=$({ kcat -Q -b "$BROKERS" -t "$TOPIC:0:-1" -t "$TOPIC:1:-1" -t "$TOPIC:2:-1" -t "$TOPIC:3:-1" 2>/dev/null || true; } \
    | awk '$3 == "offset" {s += $4} END {print s + 0}')
  [ "$END" -ge 400 ] && break
  [ "$(now_ms)" -lt "$deadline" ] || fail "the topic's end offsets add up to $END, 400 events were produced"
  sleep 0.5
done
[ "$END" -eq 400 ] || fail "the topic holds $END messages, 400 were produced"
wait_committed 400 60 "after the rejoin"
say "after the rejoin: every offset committed"

kill -TERM "$WPID"
rc=0; wait "$WPID" || rc=$?
[ "$rc" -eq 0 ] || fail "the worker exited $rc on SIGTERM"

n=$(q "SELECT count(*) || ' ' || count(DISTINCT event_id) || ' ' || coalesce(sum(amount), 0) FROM rt_events")
[ "$n" = "399 399 399" ] || fail "rt_events holds '$n' (rows, distinct ids, amounts), expected 399 each"
n=$(q "SELECT sum(events) || ' ' || sum(n) FROM rt_counts")
[ "$n" = "399 399" ] || fail "rt_counts adds up to '$n', expected 399 399"
n=$(q "SELECT count(*) FROM dead_letters WHERE consumer_group = '$GROUP'")
[ "$n" -eq 1 ] || fail "dead_letters holds $n rows, expected 1"
n=$(kcat -C -b "$BROKERS" -t "$TOPIC.dlq" -o beginning -e -q -f '%h\n' 2>/dev/null | grep -c 'cs-original-offset=' || true)
[ "$n" -ge 1 ] || fail "the dead letter is not in $TOPIC.dlq"
grep -q '"partition assigned' <(sed -n '/partitions lost/,$p' "$T/worker.log") \
  || fail "the worker logged no assignment after losing its partitions"
[ "$slow" -eq 0 ] || fail "the event loop did not answer /healthz within 1 s $slow times while the broker was stopped"
say "ok: 399 events applied once, 1 dead letter, partitions lost and assigned again, loop responsive"
echo "1 passed, 0 failed"
