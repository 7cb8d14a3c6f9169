#!/usr/bin/env bash
# tests/integration/0123-drain_members.sh
#      --drain with several members of one consumer group under an eager assignor (roundrobin):
#      a member whose partitions a rebalance revoked has none until the assignment that follows,
#      and must not take that moment for the end of its work (libcore/src/worker_loop.c,
#      DRAIN_EMPTY_SETTLE_S). Member A drains alone, member B joins (every partition revoked and
#      dealt out again), both run to their end: the group's stored offsets reach every
#      partition's end, and each member exits 0. Three rounds, as the window is a race.
set -euo pipefail
BIN=${1:?usage: 0123-drain_members.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0123
DB=t_dmembers_$$
DSN=$(it_dsn "$DB")
MENTORS=20 # cs-loadgen's --mentors below
cleanup() { it_db_drop; rm -rf "$T"; }
trap cleanup EXIT

it_db "$DB"
P="t.dmembers.$$."
names="cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile"
topics=$(progress_topics "$P")
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 400 --mentors 20 --events 20000 --days 0 --seed 3 \
  --log-level warn || fail "cs-loadgen"
total=0
for t in $names; do
  total=$((total + $(kcat -C -b "$CS_KAFKA_BROKERS" -t "$P$t" -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)))
done
[ "$total" -ge 19000 ] || fail "only $total events published"

member() { # $1 group, $2 name
  "$BIN/cs-progress" --pg-dsn "$DSN" --topics "$topics" --group "$1" --drain --metrics-port -1 \
    --session-timeout-ms 6000 --assignment-strategy roundrobin --batch-size 200 --log-level info \
    2>"$T/$1.$2.err"
}
for round in 1 2 3; do
  g="dm.$$.$round"
  member "$g" a &
  a=$!
  # B joins once A has committed a batch, so that A has partitions to lose
  for _ in $(seq 1 200); do
    [ "$(q "$DSN" "SELECT count(*) FROM consumer_offsets WHERE consumer_group = '$g'")" -gt 0 ] && break
    sleep 0.05
  done
  member "$g" b || fail "round $round: member b failed: $(tail -3 "$T/$g.b.err")"
  wait "$a" || fail "round $round: member a failed: $(tail -3 "$T/$g.a.err")"
  done_=$(q "$DSN" "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = '$g'")
  [ "$done_" -eq "$total" ] || fail "round $round: the group's offsets cover $done_ of $total events: \
a $(grep -c '"drained' "$T/$g.a.err") drained ($(grep -o '"drained[^}]*}' "$T/$g.a.err" | tail -1)), \
b ($(grep -o '"drained[^}]*}' "$T/$g.b.err" | tail -1))"
done
echo "ok: 3 rounds, two members each drained all $total events"
