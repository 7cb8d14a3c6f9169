#!/usr/bin/env bash
# tests/integration/0087-member_while_db_locked.sh
#      A worker waiting on its database stays a member of its group, its lag stays live, and it
#      resumes when the database does.
#
#      One cs-audit (6 s session, max.poll.interval.ms 10 s, a 64 KiB reservoir and batches of 100,
#      so that it soon holds back: two batches taken and the reservoir full) drains a first round
#      of events. Then a psql session holds `LOCK TABLE consumer_offsets IN EXCLUSIVE MODE` for
#      about 25 s, more than twice max.poll.interval.ms, while events are published in two waves.
#      Meanwhile:
#       - kafka-consumer-groups --describe --state says Stable with 1 member, twice, the second
#         time past twice max.poll.interval.ms into the lock;
#       - /metrics answers within a second every time; the worker's high watermarks reach the log
#         end of each wave (its fetchers stopped: the watermarks come from the background
#         refresh); its lag in messages is the log end minus the stored offsets; its lag in
#         seconds grows;
#       - cs_rebalances_total{kind="lost"} and {kind="revoke"} stay 0.
#      After the lock: every event is applied (the stored offsets reach the log end), lag 0, still
#      one assignment and no loss, and SIGTERM exits 0.
#      Before the fix the worker, holding back with its reservoir full, polled nothing for
#      max.poll.interval.ms; librdkafka then left the group (Empty, 0 members), the partitions
#      were lost and the worker rejoined only after the lock was released.
#      BUILD_BIN_DIR holds cs-audit, cs-produce and cs-loadgen; CS_PG_DSN and CS_KAFKA_BROKERS
#      come from scripts/test.
set -euo pipefail
BIN=${1:?usage: 0087-member_while_db_locked.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0087
MAX_POLL_S=10
DB=t_memlock_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
TOPIC="t.memlock.$$.events"
GROUP="cs-audit-memlock$$"
LOCKER="cs_lock_0087_$$"
export CS_ANCHOR_TOPIC="t.memlock.$$.anchors"
WORKER=
cleanup() {
  [ -z "$WORKER" ] || kill "$WORKER" 2>/dev/null || true
  [ -z "$WORKER" ] || wait "$WORKER" 2>/dev/null || true
  unlock
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${CS_0087_KEEP:-}" ] && cp -r "$T" "$CS_0087_KEEP" || true
  rm -rf "$T"
}
trap cleanup EXIT
it_fail_detail() { [ ! -f "$T/audit.err" ] || grep -v '"debug"' "$T/audit.err" | tail -20 >&2; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
stored_sum() { q "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = '$GROUP'"; }
log_end() { "$KAFKA" tool get-offsets --topic "$TOPIC" --time -1 2>/dev/null | awk -F: -v t="$TOPIC" '$1 == t { s += $3 } END { print s + 0 }'; }
# metric NAME [LABELS-REGEX]: the sum of a metric's series in $T/m.txt
metric() { awk -v n="$1" -v l="${2:-}" 'index($0, n) == 1 && (l == "" || $0 ~ l) { s += $NF } END { print s + 0 }' "$T/m.txt"; }
max_metric() { awk -v n="$1" 'index($0, n"{") == 1 && $NF > m { m = $NF } END { print m + 0 }' "$T/m.txt"; }
scrape() {
  local t0 t1
  t0=$(now)
  curl -sf -m 1 "http://127.0.0.1:$PORT/metrics" >"$T/m.txt" || fail "/metrics did not answer within 1 s ($1)"
  t1=$(now)
  "$PY" -c "import sys; sys.exit(0 if $t1 - $t0 < 1.0 else 1)" || fail "/metrics took $("$PY" -c "print(round($t1 - $t0, 2))") s ($1)"
}
member_check() {
  "$KAFKA" tool consumer-groups --timeout $((30000 * MULT)) --describe --group "$GROUP" --state >"$T/state.txt" 2>&1 || { cat "$T/state.txt"; fail "describe --state"; }
  awk -v g="$GROUP" '$1 == g { print $(NF-1), $NF }' "$T/state.txt" >"$T/state.short"
  [ "$(cat "$T/state.short")" = "Stable 1" ] || { cat "$T/state.txt"; fail "$1: the group is $(cat "$T/state.short"), not Stable with 1 member"; }
  echo "$1: group Stable, 1 member"
}

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
"$BIN/cs-loadgen" --seed 87 --learners 300 --days 0 --events 6000 --jsonl "$T/all.jsonl" 2>"$T/gen.log" \
  || { cat "$T/gen.log"; fail "cs-loadgen"; }
sed -n '1,300p' "$T/all.jsonl" >"$T/w0.jsonl"
sed -n '301,4300p' "$T/all.jsonl" >"$T/w1.jsonl"
sed -n '4301,6000p' "$T/all.jsonl" >"$T/w2.jsonl"
"$BIN/cs-produce" --topic "$TOPIC" "$T/w0.jsonl" 2>"$T/p0.log" || { cat "$T/p0.log"; fail "cs-produce (first)"; }

PORT=$(free_port)
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$TOPIC" --group "$GROUP" --metrics-port "$PORT" --metrics-addr 127.0.0.1 \
  --session-timeout-ms 6000 --max-poll-interval-ms $((MAX_POLL_S * 1000)) --prefetch-reservoir-kb 64 \
  --batch-size 100 --log-level=info 2>"$T/audit.err" &
WORKER=$!
for i in $(seq 1 $((60 * MULT))); do
  [ "$(stored_sum)" -eq 300 ] && break
  [ "$i" -lt $((60 * MULT)) ] || fail "the first 300 events were not applied"
  sleep 0.5
done
echo "first round applied"

lock_offsets
t_lock=$(now)
"$BIN/cs-produce" --topic "$TOPIC" "$T/w1.jsonl" 2>"$T/p1.log" || { cat "$T/p1.log"; fail "cs-produce (wave 1)"; }
end1=$(log_end)

# wait_high END WHAT: the worker's high watermarks add up to END (the log end) while locked.
wait_high() {
  for i in $(seq 1 $((40 * MULT))); do
    scrape "$2"
    [ "$(metric cs_partition_high_watermark)" -eq "$1" ] && return 0
    [ "$i" -lt $((40 * MULT)) ] || fail "$2: the worker's high watermarks add up to $(metric cs_partition_high_watermark), not $1"
    sleep 0.5
  done
}
wait_high "$end1" "wave 1"
[ "$(metric cs_partition_lag_messages)" -eq $((end1 - 300)) ] || fail "wave 1: lag $(metric cs_partition_lag_messages), not $((end1 - 300))"
age1=$(max_metric cs_partition_lag_seconds)
echo "wave 1: lag $(metric cs_partition_lag_messages) messages, oldest ${age1} s"

# Past max.poll.interval.ms into the lock: before the fix the member had left by now.
"$PY" -c "import time; time.sleep(max(0, $t_lock + $MAX_POLL_S + 2 - time.time()))"
member_check "$(printf '%.0f' "$("$PY" -c "print($(now) - $t_lock)")") s into the lock"
"$BIN/cs-produce" --topic "$TOPIC" "$T/w2.jsonl" 2>"$T/p2.log" || { cat "$T/p2.log"; fail "cs-produce (wave 2)"; }
end2=$(log_end)
wait_high "$end2" "wave 2"
[ "$(metric cs_partition_lag_messages)" -eq $((end2 - 300)) ] || fail "wave 2: lag $(metric cs_partition_lag_messages), not $((end2 - 300))"
[ "$(stored_sum)" -eq 300 ] || fail "offsets moved while the table was locked"
"$PY" -c "import time; time.sleep(max(0, $t_lock + 2 * $MAX_POLL_S + 4 - time.time()))"
scrape "late in the lock"
age2=$(max_metric cs_partition_lag_seconds)
"$PY" -c "import sys; sys.exit(0 if $age2 > $age1 + 5 else 1)" || fail "lag seconds did not grow: $age1 then $age2"
echo "wave 2: lag $(metric cs_partition_lag_messages) messages, oldest ${age2} s"
member_check "$(printf '%.0f' "$("$PY" -c "print($(now) - $t_lock)")") s into the lock"
[ "$(metric cs_rebalances_total 'kind="lost"')" -eq 0 ] && [ "$(metric cs_rebalances_total 'kind="revoke"')" -eq 0 ] \
  || fail "partitions revoked or lost during the lock: $(grep '^cs_rebalances_total' "$T/m.txt" | tr '\n' ' ')"

unlock
t_unlock=$(now)
for i in $(seq 1 $((60 * MULT))); do
  [ "$(stored_sum)" -eq "$end2" ] && break
  [ "$i" -lt $((60 * MULT)) ] || fail "after the lock only $(stored_sum) of $end2 offsets were applied"
  sleep 0.5
done
echo "resumed: all $end2 applied $("$PY" -c "print(round($(now) - $t_unlock, 1))") s after the lock went"
[ "$(q "SELECT count(*) FROM system_logs")" -ge "$end2" ] || fail "fewer audit rows than events"
for i in $(seq 1 $((20 * MULT))); do
  scrape "after"
  [ "$(metric cs_partition_lag_messages)" -eq 0 ] && break
  [ "$i" -lt $((20 * MULT)) ] || fail "lag $(metric cs_partition_lag_messages) after the drain"
  sleep 0.5
done
[ "$(metric cs_rebalances_total 'kind="assign"')" -eq 1 ] && [ "$(metric cs_rebalances_total 'kind="lost"')" -eq 0 ] \
  || fail "rebalances: $(grep '^cs_rebalances_total' "$T/m.txt" | tr '\n' ' ')"
if grep -q '"partitions lost' "$T/audit.err"; then fail "the worker logged lost partitions"; fi
kill -TERM "$WORKER"
rc=0
wait "$WORKER" || rc=$?
WORKER=
[ "$rc" -eq 0 ] || fail "cs-audit exited $rc on SIGTERM"
echo "1 passed, 0 failed"
