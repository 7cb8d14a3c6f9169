#!/usr/bin/env bash
# tests/integration/0086-lag_agreement.sh
#      Lag agrees everywhere (issue 17): per partition, the Kafka distribution's
#      kafka-consumer-groups --describe (what Burrow and KMinion read: Kafka's committed offsets
#      and log end), a live worker's /metrics (cs_partition_stored_offset, _high_watermark,
#      _lag_messages, _lag_seconds) and cs-lag (stored offsets from PostgreSQL) report the same
#      offsets and the same lag, at three moments:
#       1. after Kafka's committed offsets were set back to the beginning (PostgreSQL ahead of
#          Kafka: a commit to Kafka lost): a worker that is assigned the partitions commits the
#          offsets it loaded from PostgreSQL to Kafka at once, with no event to process;
#       2. with a backlog: 300 events published while a psql session holds
#          `LOCK TABLE consumer_offsets IN EXCLUSIVE MODE`, so the worker holds them and can
#          commit nothing; its lag in seconds agrees with cs-lag's (the age of the message at the
#          stored offset) within the time between the two readings;
#       3. after the drain: lag 0 everywhere, Kafka's committed offsets equal PostgreSQL's.
#      A first cs-audit --drain before all that checks that Kafka follows PostgreSQL after each
#      commit. BUILD_BIN_DIR holds cs-audit, cs-produce, cs-loadgen and cs-lag; CS_PG_DSN,
#      CS_KAFKA_BROKERS come from scripts/test. The database and the worker go on every path.
set -euo pipefail
BIN=${1:?usage: 0086-lag_agreement.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0086
DB=t_lagagree_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
TOPIC="t.lagagree.$$.events"
GROUP="cs-audit-lagagree$$"
LOCKER="cs_lock_0086_$$"
export CS_ANCHOR_TOPIC="t.lagagree.$$.anchors"
WORKER=
cleanup() {
  [ -z "$WORKER" ] || kill "$WORKER" 2>/dev/null || true
  [ -z "$WORKER" ] || wait "$WORKER" 2>/dev/null || true
  unlock
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${CS_0086_KEEP:-}" ] && cp -r "$T" "$CS_0086_KEEP" || true
  rm -rf "$T"
}
trap cleanup EXIT
it_fail_detail() { [ ! -f "$T/audit.err" ] || tail -20 "$T/audit.err" >&2; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
audit() { "$BIN/cs-audit" --pg-dsn "$DSN" --topics "$TOPIC" --group "$GROUP" --session-timeout-ms 6000 "$@"; }

# snapshot NAME: every reading of the moment, each with the time it was taken.
snapshot() {
  local n=$1
  now >"$T/$n.t0"
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$T/$n.metrics" || fail "no /metrics"
  now >"$T/$n.t1"
  "$BIN/cs-lag" --pg-dsn "$DSN" --kafka-brokers "$CS_KAFKA_BROKERS" --log-level=error --group "$GROUP" \
    --json >"$T/$n.lag.json" || fail "cs-lag exited $?"
  now >"$T/$n.t2"
  q "SELECT kafka_partition || ' ' || next_offset FROM consumer_offsets WHERE consumer_group = '$GROUP' AND topic = '$TOPIC'" >"$T/$n.stored"
  "$KAFKA" tool get-offsets --topic "$TOPIC" --time -1 >"$T/$n.high" 2>"$T/$n.go.err" || { cat "$T/$n.go.err"; fail "get-offsets"; }
  "$KAFKA" tool consumer-groups --timeout $((30000 * MULT)) --describe --group "$GROUP" >"$T/$n.cg" 2>"$T/$n.cg.err" || { cat "$T/$n.cg.err"; fail "consumer-groups --describe"; }
}

# agree NAME WHAT: the checks every moment shares; WHAT: "caught-up" or "backlog N".
agree() {
  "$PY" - "$T" "$1" "$TOPIC" "$2" "${3:-0}" <<'PYEOF'
import json, re, sys
T, n, topic, what, backlog = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
f = lambda ext: f'{T}/{n}.{ext}'
t0, t1, t2 = (float(open(f(x)).read()) for x in ('t0', 't1', 't2'))
high = {int(l.split(':')[1]): int(l.split(':')[2]) for l in open(f('high')) if l.startswith(topic + ':')}
stored = {int(l.split()[0]): int(l.split()[1]) for l in open(f('stored')) if l.strip()}
cg = {}
for l in open(f('cg')):
    x = l.split()
    if len(x) >= 6 and x[1] == topic:
        cg[int(x[2])] = {'current': None if x[3] == '-' else int(x[3]), 'end': int(x[4]),
                         'lag': None if x[5] == '-' else int(x[5])}
met = {}
for l in open(f('metrics')):
    m = re.match(r'(cs_partition_\w+)\{topic="([^"]+)",partition="(\d+)"\} (\S+)', l)
    if m and m.group(2) == topic:
        met.setdefault(int(m.group(3)), {})[m.group(1)] = float(m.group(4))
doc = json.load(open(f('lag.json')))
g = [g for g in doc['groups']][0]
lag = {p['partition']: p for p in g['partitions'] if p['topic'] == topic}
parts = sorted(high)
assert parts and set(cg) == set(parts) == set(met) == set(lag), ('partitions', parts, sorted(cg), sorted(met), sorted(lag))
total = 0
for k in parts:
    s, h = stored[k], high[k]
    want = h - s
    total += want
    c, m, l = cg[k], met[k], lag[k]
    row = (k, 'stored', s, 'high', h, 'kafka-consumer-groups', c, 'metrics', m, 'cs-lag',
           {x: l[x] for x in ('stored_offset', 'kafka_committed_offset', 'high_watermark', 'lag_messages', 'lag_seconds')})
    # the offsets
    assert c['current'] == s, ('kafka committed != stored',) + row
    assert c['end'] == h and m['cs_partition_high_watermark'] == h and l['high_watermark'] == h, ('high',) + row
    assert m['cs_partition_stored_offset'] == s and l['stored_offset'] == s and l['kafka_committed_offset'] == s, ('stored',) + row
    # the lag in messages
    assert c['lag'] == want and m['cs_partition_lag_messages'] == want and l['lag_messages'] == want, ('lag',) + row
    # the lag in seconds: the same message's age, read at moments t0..t1 (metrics) and t1..t2 (cs-lag)
    ms, ls = m['cs_partition_lag_seconds'], l['lag_seconds']
    if want == 0:
        assert ms == 0 and ls == 0, ('lag seconds while caught up',) + row
    else:
        assert ms > 0 and ls > 0 and abs(ms - ls) <= (t2 - t0) + 1.0, ('lag seconds', ms, ls, t2 - t0) + row
if what == 'backlog':
    assert total == backlog, ('backlog', total, backlog)
else:
    assert total == 0, ('not caught up', total)
print(f'{n}: {len(parts)} partitions agree: lag', {k: cg[k]['lag'] for k in parts},
      'seconds', {k: round(met[k]['cs_partition_lag_seconds'], 1) for k in parts})
PYEOF
}

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
"$BIN/cs-loadgen" --seed 86 --learners 200 --days 0 --events 900 --jsonl "$T/all.jsonl" 2>"$T/gen.log" \
  || { cat "$T/gen.log"; fail "cs-loadgen"; }
head -n 600 "$T/all.jsonl" >"$T/first.jsonl"
tail -n 300 "$T/all.jsonl" >"$T/second.jsonl"
"$BIN/cs-produce" --topic "$TOPIC" "$T/first.jsonl" 2>"$T/p1.log" || { cat "$T/p1.log"; fail "cs-produce (first)"; }

# --- Kafka follows PostgreSQL after each commit ---
audit --drain --log-level=error 2>"$T/drain.err" || { cat "$T/drain.err"; fail "cs-audit --drain exited $?"; }
q "SELECT kafka_partition || ' ' || next_offset FROM consumer_offsets WHERE consumer_group = '$GROUP'" | sort >"$T/drain.stored"
"$KAFKA" tool consumer-groups --timeout $((30000 * MULT)) --describe --group "$GROUP" 2>"$T/cg0.err" \
  | awk -v t="$TOPIC" '$2 == t && $4 != "-" && $4 != 0 { print $3 " " $4 }' | sort >"$T/drain.kafka"
[ "$(awk '{ s += $2 } END { print s }' "$T/drain.stored")" -eq 600 ] || fail "the drain stored $(cat "$T/drain.stored")"
diff "$T/drain.stored" "$T/drain.kafka" >&2 || fail "after the drain Kafka's committed offsets differ from PostgreSQL's"
echo "drain: Kafka's committed offsets equal PostgreSQL's"

# --- 1. PostgreSQL ahead of Kafka: the assignment commits the stored offsets ---
"$KAFKA" tool consumer-groups --reset-offsets --to-earliest --execute --group "$GROUP" --topic "$TOPIC" \
  >"$T/reset.out" 2>&1 || { cat "$T/reset.out"; fail "reset-offsets"; }
"$KAFKA" tool consumer-groups --timeout $((30000 * MULT)) --describe --group "$GROUP" 2>/dev/null \
  | awk -v t="$TOPIC" '$2 == t && $4 != "0" { bad = 1 } END { exit bad }' || fail "the reset did not set Kafka's offsets to 0"
PORT=$(free_port)
# not through audit(): $! must be the worker's own pid
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$TOPIC" --group "$GROUP" --session-timeout-ms 6000 \
  --metrics-port "$PORT" --metrics-addr 127.0.0.1 --log-level=info 2>"$T/audit.err" &
WORKER=$!
nparts=$(grep -c . "$T/drain.stored")
ok=0
for _ in $(seq 1 $((60 * MULT))); do
  if curl -sf "http://127.0.0.1:$PORT/metrics" >"$T/m.txt" 2>/dev/null &&
     [ "$(grep -c "^cs_partition_lag_messages{topic=\"$TOPIC\"" "$T/m.txt")" -eq "$nparts" ]; then ok=1; break; fi
  sleep 0.5
done
[ "$ok" = 1 ] || fail "the worker never reported its $nparts partitions"
# The assignment's commit is asynchronous: give it a few seconds, well under the 30 s after
# which the worker commits its stored offsets to Kafka again anyway.
deadline=$("$PY" -c "print($(now) + 8 * $MULT)")
while :; do
  snapshot assigned
  agree assigned caught-up 2>"$T/assigned.why" && break
  "$PY" -c "import sys; sys.exit(0 if $(now) < $deadline else 1)" \
    || { cat "$T/assigned.why" >&2; fail "after the assignment the readings disagree"; }
  sleep 1
done

# --- 2. a backlog the worker holds: consumer_offsets locked ---
lock_offsets
"$BIN/cs-produce" --topic "$TOPIC" "$T/second.jsonl" 2>"$T/p2.log" || { cat "$T/p2.log"; fail "cs-produce (second)"; }
"$KAFKA" tool get-offsets --topic "$TOPIC" --time -1 >"$T/high2" 2>/dev/null
ok=0
for _ in $(seq 1 $((60 * MULT))); do
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$T/m.txt" || fail "no /metrics while the table is locked"
  if "$PY" - "$T/high2" "$T/m.txt" "$TOPIC" <<'PYEOF'
import re, sys
high = {int(l.split(':')[1]): int(l.split(':')[2]) for l in open(sys.argv[1]) if l.startswith(sys.argv[3] + ':')}
met = {}
for l in open(sys.argv[2]):
    m = re.match(r'cs_partition_high_watermark\{topic="([^"]+)",partition="(\d+)"\} (\S+)', l)
    if m and m.group(1) == sys.argv[3]:
        met[int(m.group(2))] = float(m.group(3))
sys.exit(0 if all(met.get(k) == v for k, v in high.items()) else 1)
PYEOF
  then ok=1; break; fi
  sleep 0.5
done
[ "$ok" = 1 ] || fail "the worker's high watermarks never reached the log end while the table was locked"
sleep 2 # some age for the oldest waiting event
snapshot backlog
agree backlog backlog 300 || fail "with a backlog the readings disagree"

# --- 3. the lock goes, the worker drains ---
unlock
for i in $(seq 1 $((30 * MULT))); do
  if [ "$(q "SELECT sum(next_offset) FROM consumer_offsets WHERE consumer_group = '$GROUP'")" -eq 900 ]; then
    snapshot drained
    agree drained caught-up 2>"$T/drained.why" && break
  fi
  [ "$i" -lt $((30 * MULT)) ] || { cat "$T/drained.why" >&2 2>/dev/null; fail "after the drain the readings disagree"; }
  sleep 1
done
if grep -q '"partitions lost' "$T/audit.err"; then fail "the worker lost its partitions"; fi

kill -TERM "$WORKER"
rc=0
wait "$WORKER" || rc=$?
WORKER=
[ "$rc" -eq 0 ] || fail "cs-audit exited $rc on SIGTERM"
echo "1 passed, 0 failed"
