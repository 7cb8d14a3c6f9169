#!/usr/bin/env bash
# bench/replay.sh - cs-replay beside the live worker on the same events, in one run.
#
#   bench/replay.sh [--events N] [--worker W] [--bin DIR]
#
# On its own throwaway Apache Kafka (scripts/kafka, one KRaft node in .run/bench-replay/kafka,
# fresh each run) and databases in the throwaway PostgreSQL cluster (scripts/devdb):
#  1. publishes N events (default 200,000) from cs-loadgen to the real topics;
#  2. drains them with the live worker (cs-W --drain, default W = progress) into a fresh database;
#  3. replays the same events with cs-replay W into another fresh database (the range: everything,
#     frozen at start);
#  4. drains them with the live worker once more (the first run reads from a colder page cache:
#     the order matters on a small machine; both live runs are reported);
# and prints events/s of each, measured the same way: from the first "partition assigned" log line
# to the "drained" one (start-up, range resolution and the job's creation are not counted; the
# wall times with them are printed too). Checks that both accounted for every event. Writes
# bench/results/replay-<UTC timestamp>.json. --bin uses built programs (e.g. build/bin) instead of
# building build-bench (Release). Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
EVENTS=200000
WORKER=progress
BIN=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --worker) WORKER=$2; shift 2 ;;
    --bin) BIN=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: bench/replay.sh [--events N] [--worker W] [--bin DIR]" >&2; exit 2 ;;
  esac
done

bench_build
bench_services bench-replay
# From the first partition assigned to the drained line of a log.
span() {
  local a b
  a=$(grep -m1 '"partition assigned"' "$1" | log_secs)
  b=$(grep -m1 '"drained' "$1" | log_secs)
  echo "$b - $a" | bc -l
}
accounted() { # events applied or dead-lettered in database $1 by group $2
  psql "$BASE/$1" -qAt -v ON_ERROR_STOP=1 -c "SELECT (SELECT count(*) FROM processed_events WHERE consumer_group = '$2')
    + (SELECT count(*) FROM dead_letters WHERE consumer_group = '$2')"
}

bench_template bench_replay_tpl

echo "== publishing $EVENTS events"
"$BIN/cs-loadgen" --seed 2026 --learners 10000 --days 0 --events "$EVENTS" --publish 2>"$RUN/loadgen.log"

live() { # live N: the live worker's drain; sets live_s, live_wall, live_n
  echo "== live ($1): cs-$WORKER --drain"
  fresh_db bench_replay_live
  local t0
  t0=$(now)
  "$BIN/cs-$WORKER" --pg-dsn "$BASE/bench_replay_live" --group "bench-live-$$" --drain --metrics-port -1 \
    --log-level info 2>"$RUN/live$1.log"
  live_wall=$(echo "$(now) - $t0" | bc -l)
  live_s=$(span "$RUN/live$1.log")
  live_n=$(accounted bench_replay_live "bench-live-$$")
}
live 1
live1_s=$live_s live1_wall=$live_wall live1_n=$live_n

echo "== replay: cs-replay $WORKER"
fresh_db bench_replay_job
t0=$(now)
"$BIN/cs-replay" "$WORKER" --pg-dsn "$BASE/bench_replay_job" --group "bench-live-$$" --metrics-port -1 \
  --log-level info --json >"$RUN/replay.json" 2>"$RUN/replay.log"
replay_wall=$(echo "$(now) - $t0" | bc -l)
replay_s=$(span "$RUN/replay.log")
replay_n=$(accounted bench_replay_job "$(psql "$BASE/bench_replay_job" -qAt -c "SELECT consumer_group FROM replay_jobs")")
live 2
live2_s=$live_s live2_wall=$live_wall live2_n=$live_n

live1_rate=$(echo "$EVENTS / $live1_s" | bc -l)
live2_rate=$(echo "$EVENTS / $live2_s" | bc -l)
replay_rate=$(echo "$EVENTS / $replay_s" | bc -l)
printf '%-8s %8.1f s %10.0f events/s (%.1f s with start-up)  accounted %d\n' "live 1" "$live1_s" "$live1_rate" "$live1_wall" "$live1_n"
printf '%-8s %8.1f s %10.0f events/s (%.1f s with start-up, range and job)  accounted %d\n' replay "$replay_s" "$replay_rate" "$replay_wall" "$replay_n"
printf '%-8s %8.1f s %10.0f events/s (%.1f s with start-up)  accounted %d\n' "live 2" "$live2_s" "$live2_rate" "$live2_wall" "$live2_n"
printf 'replay / live: %.2f (live 1), %.2f (live 2)\n' "$(echo "$replay_rate / $live1_rate" | bc -l)" "$(echo "$replay_rate / $live2_rate" | bc -l)"
echo "replay report: $(cat "$RUN/replay.json")"
rc=0
for x in "live1 $live1_n" "replay $replay_n" "live2 $live2_n"; do
  set -- $x
  [ "$2" -eq "$EVENTS" ] || { echo "LOSS: $1 accounted for $2 of $EVENTS events" >&2; rc=1; }
done

out=bench/results/replay-$(date -u +%Y%m%dT%H%M%SZ).json
cat >"$out" <<EOF
{"benchmark":"replay","worker":"$WORKER","events":$EVENTS,"host_cpus":$(nproc),
 "load_average":"$(cut -d' ' -f1-3 /proc/loadavg)",
 "live":[{"seconds":$(num "$live1_s"),"wall_seconds":$(num "$live1_wall"),"events_per_s":$(num "$live1_rate"),"accounted":$live1_n},
         {"seconds":$(num "$live2_s"),"wall_seconds":$(num "$live2_wall"),"events_per_s":$(num "$live2_rate"),"accounted":$live2_n}],
 "replay":{"seconds":$(num "$replay_s"),"wall_seconds":$(num "$replay_wall"),"events_per_s":$(num "$replay_rate"),"accounted":$replay_n,
   "report":$(cat "$RUN/replay.json")}}
EOF
echo "wrote $out"
exit $rc
