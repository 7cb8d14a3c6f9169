#!/usr/bin/env bash
# tests/integration/0082-cs_lag.sh
#      cs-lag on the real broker and PostgreSQL (issue 17): a cs-audit drains a first stream of
#      events and stops; more events are published; then, per partition, cs-lag's lag in messages
#      equals the high watermark (the release's GetOffsetShell) minus the stored offset (psql),
#      its Kafka committed offset and log end equal kafka-consumer-groups' CURRENT-OFFSET and
#      LOG-END-OFFSET, its lag in seconds lies between the ages of the newest and the oldest
#      unconsumed event, and the status is STOP (nobody holds the partitions). A live member of
#      the group that applies nothing (kcat's balanced consumer) makes the lagging partitions
#      STALL; once a worker has drained them, every partition is OK with lag 0. --json parses,
#      --watch without a terminal writes a line per group per interval, --samples N samples N
#      times, and the refusals (unknown group, unreachable broker, usage) are clear.
set -euo pipefail
BIN=${1:?usage: 0082-cs_lag.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA=$ROOT/scripts/kafka
MULT=${CS_TEST_TIMEOUT_MULT:-1}
T=$(mktemp -d)
DB=t_lag_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
TOPIC="t.lag.$$.events"
GROUP="cs-audit-lag$$"
export CS_ANCHOR_TOPIC="t.lag.$$.anchors"
WORKER=
cleanup() {
  [ -z "$WORKER" ] || kill "$WORKER" 2>/dev/null || true
  [ -z "$WORKER" ] || wait "$WORKER" 2>/dev/null || true
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }
lag() { "$BIN/cs-lag" --pg-dsn "$DSN" --kafka-brokers "$CS_KAFKA_BROKERS" --log-level=error "$@"; }
# py EXPR-SCRIPT FILE: runs a Python check on cs-lag's JSON (doc) and prints what it prints.
py() { python3 -c "import json,sys; doc=json.load(open(sys.argv[1])); $1" "$2"; }

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
"$BIN/cs-loadgen" --seed 82 --learners 200 --days 0 --events 900 --jsonl "$T/all.jsonl" 2>"$T/gen.log" \
  || { cat "$T/gen.log"; fail "cs-loadgen"; }
head -n 600 "$T/all.jsonl" >"$T/first.jsonl"
tail -n 300 "$T/all.jsonl" >"$T/second.jsonl"
"$BIN/cs-produce" --topic "$TOPIC" "$T/first.jsonl" 2>"$T/p1.log" || { cat "$T/p1.log"; fail "cs-produce (first)"; }

audit() { "$BIN/cs-audit" --pg-dsn "$DSN" --topics "$TOPIC" --group "$GROUP" --log-level=error --session-timeout-ms 6000 "$@"; }
audit --drain 2>"$T/audit1.err" || { cat "$T/audit1.err"; fail "cs-audit --drain exited $?"; }
[ "$(q "SELECT sum(next_offset) FROM consumer_offsets WHERE consumer_group = '$GROUP'")" -eq 600 ] \
  || fail "the first drain stored offsets summing to $(q "SELECT sum(next_offset) FROM consumer_offsets WHERE consumer_group = '$GROUP'"), not 600"
echo "drained 600 events"

t_pub0=$(now)
"$BIN/cs-produce" --topic "$TOPIC" "$T/second.jsonl" 2>"$T/p2.log" || { cat "$T/p2.log"; fail "cs-produce (second)"; }
t_pub1=$(now)
sleep 3 # the last commit is now older than a 2 s window

# --- STOP: the worker is gone, 300 events wait ---
t_lag0=$(now)
lag --group "$GROUP" --window-s 2 --json >"$T/stop.json" || fail "cs-lag exited $?"
t_lag1=$(now)
"$KAFKA" tool get-offsets --topic "$TOPIC" --time -1 >"$T/high.txt" 2>"$T/go.err" || { cat "$T/go.err"; fail "get-offsets"; }
q "SELECT kafka_partition || ' ' || next_offset FROM consumer_offsets WHERE consumer_group = '$GROUP' AND topic = '$TOPIC'" >"$T/stored.txt"
"$KAFKA" tool consumer-groups --timeout $((30000 * MULT)) --describe --group "$GROUP" >"$T/cg.txt" 2>"$T/cg.err" || { cat "$T/cg.err"; fail "consumer-groups --describe"; }
cat "$T/stop.json" >&2
py "
high = {int(l.split(':')[1]): int(l.split(':')[2]) for l in open('$T/high.txt') if l.startswith('$TOPIC:')}
stored = {int(l.split()[0]): int(l.split()[1]) for l in open('$T/stored.txt') if l.strip()}
cg = {}
for l in open('$T/cg.txt'):
    f = l.split()
    if len(f) >= 5 and f[1] == '$TOPIC':
        cg[int(f[2])] = (None if f[3] == '-' else int(f[3]), int(f[4]))
assert len(doc['groups']) == 1, doc['groups']
g = doc['groups'][0]
assert g['group'] == '$GROUP' and g['members'] == 0, (g['group'], g['members'], g['state'])
parts = {p['partition']: p for p in g['partitions'] if p['topic'] == '$TOPIC'}
assert set(parts) == set(high), ('partitions', sorted(parts), sorted(high))
total = 0
for k, p in sorted(parts.items()):
    want = high[k] - stored.get(k, 0)
    assert p['high_watermark'] == high[k], (k, 'high', p['high_watermark'], high[k])
    assert p['stored_offset'] == stored.get(k), (k, 'stored', p['stored_offset'], stored.get(k))
    assert p['lag_messages'] == want, (k, 'lag', p['lag_messages'], want)
    assert cg[k][1] == high[k], (k, 'LOG-END-OFFSET', cg[k], high[k])
    assert p['kafka_committed_offset'] == cg[k][0], (k, 'CURRENT-OFFSET', p['kafka_committed_offset'], cg[k])
    assert p['assigned'] is False, (k, 'assigned', p['assigned'])
    if want > 0:
        # the oldest unconsumed event was published between t_pub0 and t_pub1, read between t_lag0 and t_lag1
        lo, hi = $t_lag0 - $t_pub1 - 0.5, $t_lag1 - $t_pub0 + 0.5
        assert lo <= p['lag_seconds'] <= hi, (k, 'lag_seconds', p['lag_seconds'], lo, hi)
        assert p['status'] == 'STOP', (k, p['status'])
    else:
        assert p['lag_seconds'] == 0 and p['status'] == 'OK', (k, p)
    total += want
assert total == 300 and g['lag_messages'] == 300, (total, g['lag_messages'])
assert g['status'] == 'STOP', g['status']
print('STOP: lag per partition', {k: parts[k]['lag_messages'] for k in sorted(parts)}, 'oldest %.1f s' % g['lag_seconds'])
" "$T/stop.json" || fail "cs-lag's report of the stopped group"

# The table names the same figures.
lag --group "$GROUP" --window-s 2 >"$T/stop.txt" || fail "cs-lag (table) exited $?"
cat "$T/stop.txt"
head -1 "$T/stop.txt" | grep -q '^GROUP .*TOPIC .*PART .*STORED .*KAFKA .*HIGH .*LAG .*LAG_S .*STATUS' || fail "table header"
[ "$(grep -c " $TOPIC " "$T/stop.txt")" -eq "$(grep -c "^$TOPIC:" "$T/high.txt")" ] || fail "a table row per partition"
grep -q " STOP " "$T/stop.txt" || fail "no STOP row in the table"

# --samples: three samples a second apart, the offsets still: STOP, never WARN.
lag --group "$GROUP" --window-s 30 --samples 3 --interval-s 0.5 --json >"$T/samples.json" || fail "cs-lag --samples"
py "
p = [p for g in doc['groups'] for p in g['partitions']]
assert all(x['samples'] == 3 for x in p), [x['samples'] for x in p]
# updated_at is within 30 s now: moved, lag not growing: OK
assert doc['groups'][0]['status'] == 'OK', doc['groups'][0]['status']
" "$T/samples.json" || fail "--samples 3"

# --watch without a terminal: one line per group per interval; with --json, one document each.
lag --group "$GROUP" --window-s 2 --watch --count 3 --interval-s 0.3 >"$T/watch.txt" || fail "cs-lag --watch"
[ "$(wc -l <"$T/watch.txt")" -eq 3 ] || { cat "$T/watch.txt"; fail "--watch --count 3 wrote $(wc -l <"$T/watch.txt") lines"; }
grep -c "group=$GROUP status=STOP lag=300 " "$T/watch.txt" | grep -qx 3 || { cat "$T/watch.txt"; fail "--watch lines"; }
lag --group "$GROUP" --window-s 2 --watch --count 2 --interval-s 0.3 --json >"$T/watch.json" || fail "cs-lag --watch --json"
python3 -c "
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len(docs) == 2 and all(d['groups'][0]['lag_messages'] == 300 for d in docs), docs
" "$T/watch.json" || fail "--watch --json"
echo "--samples, --watch (lines and JSON): ok"

# --- STALL: a live member of the group that makes no progress ---
# A consumer of the group that never applies anything (kcat's balanced consumer): it holds the
# partitions, the stored offsets do not move. (It commits its own position to Kafka: cs-lag
# measures against the stored offsets all the same.)
kcat -q -b "$CS_KAFKA_BROKERS" -G "$GROUP" -X session.timeout.ms=6000 -o stored "$TOPIC" >/dev/null 2>"$T/kcat.err" &
WORKER=$!
stalled=0
for _ in $(seq 1 $((60 * MULT))); do
  lag --group "$GROUP" --window-s 2 --json >"$T/stall.json" || fail "cs-lag exited $?"
  if py "
g = doc['groups'][0]
lagging = [p for p in g['partitions'] if p['lag_messages'] > 0]
assert g['members'] == 1 and lagging and all(p['assigned'] for p in lagging)
" "$T/stall.json" 2>/dev/null; then stalled=1; break; fi
  sleep 1
done
[ "$stalled" = 1 ] || { cat "$T/stall.json" "$T/kcat.err"; fail "the live member never held the lagging partitions"; }
py "
g = doc['groups'][0]
for p in g['partitions']:
    want = 'STALL' if p['lag_messages'] > 0 else 'OK'
    assert p['status'] == want, (p['partition'], p['status'], want)
assert g['status'] == 'STALL' and g['lag_messages'] == 300, (g['status'], g['lag_messages'])
" "$T/stall.json" || { cat "$T/stall.json"; fail "a live member that makes no progress is not STALL"; }
kill "$WORKER"
wait "$WORKER" 2>/dev/null || true
WORKER=
echo "STALL: a live member that makes no progress: ok"

# --- OK: a worker drains what waits ---
audit --drain 2>"$T/audit2.err" || { cat "$T/audit2.err"; fail "cs-audit --drain (second) exited $?"; }
lag --group "$GROUP" --window-s 2 --json >"$T/ok.json" || fail "cs-lag exited $?"
py "
g = doc['groups'][0]
assert g['status'] == 'OK' and g['lag_messages'] == 0 and g['lag_seconds'] == 0, g
for p in g['partitions']:
    assert p['status'] == 'OK' and p['lag_seconds'] == 0 and p['stored_offset'] == p['high_watermark'], p
" "$T/ok.json" || { cat "$T/ok.json"; fail "caught up but not OK"; }
[ "$(q "SELECT sum(next_offset) FROM consumer_offsets WHERE consumer_group = '$GROUP'")" -eq 900 ] || fail "stored offsets do not sum to 900"
echo "OK: caught up, lag 0: ok"

# --- refusals ---
set +e
lag --group "no-such-group-$$" >"$T/r1.out" 2>"$T/r1.err"; rc1=$?
"$BIN/cs-lag" --pg-dsn "$DSN" --kafka-brokers 127.0.0.1:1 --kafka-timeout-ms 1500 --group "$GROUP" >"$T/r2.out" 2>"$T/r2.err"; rc2=$?
lag --count 2 >/dev/null 2>"$T/r3.err"; rc3=$?
lag --watch --samples 2 >/dev/null 2>"$T/r4.err"; rc4=$?
lag --group , >/dev/null 2>"$T/r5.err"; rc5=$?
set -e
[ "$rc1" -eq 1 ] && grep -q "group 'no-such-group-$$' has no offsets in consumer_offsets (groups with stored offsets that this role can see: $GROUP)" "$T/r1.err" \
  || { cat "$T/r1.err"; fail "unknown group: exit $rc1"; }
[ "$rc2" -eq 1 ] && grep -q "^cs-lag: cannot reach Kafka at 127.0.0.1:1: the metadata request failed" "$T/r2.err" \
  || { cat "$T/r2.err"; fail "unreachable broker: exit $rc2"; }
[ "$rc3" -eq 2 ] && grep -q -- "--count needs --watch" "$T/r3.err" || { cat "$T/r3.err"; fail "--count without --watch: exit $rc3"; }
[ "$rc4" -eq 2 ] && grep -q -- "--samples is for one-shot runs" "$T/r4.err" || { cat "$T/r4.err"; fail "--watch --samples: exit $rc4"; }
[ "$rc5" -eq 2 ] && grep -q -- "--group: no group named" "$T/r5.err" || { cat "$T/r5.err"; fail "--group ,: exit $rc5"; }
[ ! -s "$T/r1.out" ] && [ ! -s "$T/r2.out" ] || fail "a refused run wrote a report"
echo "refusals: ok ($(head -1 "$T/r2.err"))"
echo "1 passed, 0 failed"
