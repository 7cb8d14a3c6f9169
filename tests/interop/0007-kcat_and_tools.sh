#!/usr/bin/env bash
# tests/interop/0007-kcat_and_tools.sh
#      Real clients and the Kafka distribution's own tools against the broker: kcat produces keyed
#      messages with headers and reads them back (same key, same partition; every message once);
#      two kcat members of one group (-G) split a topic's partitions, as kafka-consumer-groups
#      --describe --members shows them; and kafka-consumer-groups --describe describes a worker's
#      group (cs-audit) with its offsets: lag 0 on every partition after a drain, the exact number
#      of events published since on each partition once the worker has stopped, 0 again after the
#      next drain.
#
#   0007-kcat_and_tools.sh BUILD_BIN_DIR SOURCE_DIR     (CS_PG_DSN, CS_KAFKA_BROKERS: scripts/test)
#
# scripts/kafka finds the cluster through CS_KAFKA_DIR (default: .kafka of the checkout); the test
# refuses to run when that cluster is not the one CS_KAFKA_BROKERS names.
set -euo pipefail
BIN=${1:?usage: 0007-kcat_and_tools.sh BUILD_BIN_DIR SOURCE_DIR}
SRC=${2:-${CS_SOURCE_DIR:?usage: 0007-kcat_and_tools.sh BUILD_BIN_DIR SOURCE_DIR}}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v kcat >/dev/null || fail "kcat is missing (run scripts/bootstrap)"
KAFKA=$SRC/scripts/kafka
B=$CS_KAFKA_BROKERS
[ "$("$KAFKA" bootstrap 2>/dev/null)" = "$B" ] \
  || fail "scripts/kafka's cluster (${CS_KAFKA_DIR:-$SRC/.kafka}) is not CS_KAFKA_BROKERS=$B"

T=$(mktemp -d)
DB=t_interop_tools_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
ms() { date +%s%3N; }
wait_for() { # SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
  local s=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + s))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || fail "$what: not within $s s"
    sleep 0.2
  done
}

# 1. kcat produces keyed messages with headers (idempotent, murmur2 as the contract's producers)
#    and reads every one back, each key in a single partition.
topic="t.kcat.$$"
"$KAFKA" tool topics --create --topic "$topic" --partitions 4 >"$T/create.out" 2>&1 || { cat "$T/create.out"; fail "topics --create"; }
for i in $(seq 1 400); do echo "user-$((i % 37))|value-$i"; done >"$T/sent"
t0=$(ms)
kcat -P -b "$B" -t "$topic" -K '|' -H "cs.event_type=kcat_test" -H "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
  -X enable.idempotence=true -X partitioner=murmur2_random -l "$T/sent" || fail "kcat -P"
kcat -C -b "$B" -t "$topic" -o beginning -e -q -f '%k|%s|%p|%h\n' >"$T/got" || fail "kcat -C"
echo "kcat: 400 messages produced and consumed in $(($(ms) - t0)) ms"
[ "$(wc -l <"$T/got")" -eq 400 ] || fail "kcat -C read $(wc -l <"$T/got") messages, expected 400"
diff <(sort "$T/sent") <(cut -d'|' -f1,2 "$T/got" | sort) >/dev/null || fail "kcat read other messages than it wrote"
[ "$(cut -d'|' -f1,3 "$T/got" | sort -u | wc -l)" -eq 37 ] || fail "a key is in more than one partition"
[ "$(cut -d'|' -f3 "$T/got" | sort -u | wc -l)" -ge 2 ] || fail "every key in one partition"
[ "$(grep -c '|cs.event_type=kcat_test,traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01$' "$T/got")" -eq 400 ] \
  || fail "headers did not come back: $(head -1 "$T/got")"
echo "kcat produce/consume: ok (400 messages, 37 keys each in one partition, headers intact)"

# 2. A kcat consumer group of two splits a fresh topic: both members join first (the tool shows
#    2 partitions each), then 400 messages come; each member reads only its own partitions, and
#    every message is read once.
gtopic="t.kcat.$$.g"
group="g.kcat.$$"
"$KAFKA" tool topics --create --topic "$gtopic" --partitions 4 >"$T/create.out" 2>&1 || { cat "$T/create.out"; fail "topics --create"; }
for m in a b; do
  kcat -u -b "$B" -G "$group" "$gtopic" -o beginning -f '%p|%o|%s\n' -X session.timeout.ms=30000 \
    -X heartbeat.interval.ms=500 >"$T/member.$m" 2>"$T/member.$m.err" &
  PIDS+=($!)
done
members_settled() {
  "$KAFKA" tool consumer-groups --describe --group "$group" --members >"$T/members" 2>/dev/null || return 1
  [ "$(awk -v g="$group" '$1 == g && $NF == 2' "$T/members" | wc -l)" -eq 2 ]
}
t0=$(ms)
wait_for 90 "two kcat members with 2 partitions each" members_settled
echo "kcat group: two members settled in $(($(ms) - t0)) ms"
kcat -P -b "$B" -t "$gtopic" -K '|' -X partitioner=murmur2_random -l "$T/sent" || fail "kcat -P (group topic)"
all_read() { [ $(($(wc -l <"$T/member.a") + $(wc -l <"$T/member.b"))) -ge 400 ]; }
wait_for 60 "the group reading the 400 messages" all_read
sleep 1 # anything read twice would come now
pa=$(cut -d'|' -f1 "$T/member.a" | sort -u | tr '\n' ' ')
pb=$(cut -d'|' -f1 "$T/member.b" | sort -u | tr '\n' ' ')
[ "$(echo $pa | wc -w)" -eq 2 ] && [ "$(echo $pb | wc -w)" -eq 2 ] || fail "members read partitions '$pa' and '$pb', not 2 each"
[ "$(echo $pa $pb | tr ' ' '\n' | sort -u | wc -l)" -eq 4 ] || fail "members read partitions '$pa' and '$pb': not disjoint"
[ "$(cat "$T/member.a" "$T/member.b" | wc -l)" -eq 400 ] || fail "the group read $(cat "$T/member.a" "$T/member.b" | wc -l) messages, expected 400"
diff <(cut -d'|' -f2 "$T/sent" | sort) <(cat "$T/member.a" "$T/member.b" | cut -d'|' -f3 | sort) >/dev/null \
  || fail "the group read other messages than were written"
echo "kcat group of two: ok (member a read partitions $pa, member b $pb; 400 messages, each once)"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
PIDS=()

# 3. A worker's group as kafka-consumer-groups describes it: the offsets cs-audit committed.
psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
prefix="t.tools.$$."
export CS_ANCHOR_TOPIC="${prefix}anchors" # this run's audit anchors only
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
wgroup="g.audit.$$"
"$BIN/cs-loadgen" --seed 21 --learners 300 --days 0 --events 3000 --publish --topic-prefix "$prefix" \
  2>"$T/gen1.log" || { tail -5 "$T/gen1.log"; fail "cs-loadgen"; }
drain() {
  local t0 rc=0
  t0=$(ms)
  "$BIN/cs-audit" --pg-dsn "$DSN" --kafka-brokers "$B" --topics "$topics" --group "$wgroup" --drain \
    --log-level warn --session-timeout-ms 6000 2>"$T/audit.log" || rc=$?
  [ "$rc" -eq 0 ] || { tail -5 "$T/audit.log"; fail "cs-audit --drain exited $rc"; }
  echo "cs-audit --drain: $(($(ms) - t0)) ms"
}
# describe NAME: the group's table as "topic partition current end lag", one line per partition.
describe() {
  local t0
  t0=$(ms)
  "$KAFKA" tool consumer-groups --timeout 30000 --describe --group "$wgroup" >"$T/$1.raw" 2>&1 || { cat "$T/$1.raw"; fail "consumer-groups --describe"; }
  grep -q 'CURRENT-OFFSET *LOG-END-OFFSET *LAG' "$T/$1.raw" || { cat "$T/$1.raw"; fail "no offsets table"; }
  awk -v g="$wgroup" '$1 == g {print $2, $3, $4, $5, $6}' "$T/$1.raw" | sort >"$T/$1"
  echo "kafka-consumer-groups --describe: $(wc -l <"$T/$1") partitions in $(($(ms) - t0)) ms"
}
sum_col() { awk -v c="$2" '{s += ($c == "-" ? 0 : $c)} END {print s + 0}' "$1"; }

drain
describe after1
logged=$(q "SELECT count(*) FROM system_logs")
[ "$logged" -eq 3000 ] || fail "system_logs has $logged rows, expected 3000"
# Every partition that holds events is committed at its end; the ends add up to what was published.
awk '$4 != "0" && ($3 != $4 || $5 != "0")' "$T/after1" >"$T/behind"
[ ! -s "$T/behind" ] || { cat "$T/after1.raw"; fail "lag after a drain: $(head -3 "$T/behind")"; }
[ "$(sum_col "$T/after1" 4)" -eq 3000 ] || { cat "$T/after1.raw"; fail "the log-end offsets add up to $(sum_col "$T/after1" 4), not 3000"; }
[ "$(sum_col "$T/after1" 3)" -eq 3000 ] || fail "the committed offsets add up to $(sum_col "$T/after1" 3), not 3000"
[ "$(sed -n 's/.*Consumer group .* has no active members.*/x/p' "$T/after1.raw")" = x ] \
  || fail "the drained worker is still a member"
echo "lag after a drain: ok (0 on all $(awk '$4 != "0"' "$T/after1" | wc -l) partitions with events; 3000 committed)"

# Events published after the worker stopped: the lag is exactly them, partition by partition.
"$BIN/cs-loadgen" --seed 22 --learners 300 --days 0 --events 700 --publish --topic-prefix "$prefix" \
  2>"$T/gen2.log" || { tail -5 "$T/gen2.log"; fail "cs-loadgen (second stream)"; }
describe after2
[ "$(sum_col "$T/after2" 5)" -eq 700 ] || { cat "$T/after2.raw"; fail "total lag $(sum_col "$T/after2" 5), expected 700"; }
join <(awk '{print $1 "/" $2, $4}' "$T/after1" | sort) <(awk '{print $1 "/" $2, $3, $4, $5}' "$T/after2" | sort) |
  awk '{ cur = ($3 == "-" ? 0 : $3); lag = ($5 == "-" ? 0 : $5);
         if ($2 != ($3 == "-" ? 0 : $3) || $4 - $2 != lag || $4 - cur != lag) bad++ } END {exit bad ? 1 : 0}' \
  || { cat "$T/after2.raw"; fail "a partition's lag is not the events published to it since the drain"; }
grep -B3 -m4 "^$wgroup " "$T/after2.raw" # what an operator sees
lagging=$(awk '$5 != "-" && $5 > 0' "$T/after2" | wc -l)
echo "lag with the worker stopped: ok (700 events behind, on $lagging partitions, each the events published since)"

drain
describe after3
[ "$(sum_col "$T/after3" 5)" -eq 0 ] || { cat "$T/after3.raw"; fail "lag after the second drain"; }
[ "$(sum_col "$T/after3" 3)" -eq 3700 ] || fail "the committed offsets add up to $(sum_col "$T/after3" 3), not 3700"
[ "$(q "SELECT count(*) FROM system_logs")" -eq 3700 ] || fail "system_logs does not hold the 3700 events"
echo "lag after the next drain: ok (0; 3700 committed)"
echo "1 passed, 0 failed"
