# bench/lib.sh - the set-up the end-to-end benchmarks (bench/pipeline.sh, bench/replay.sh) share
# (bench/latency.sh uses e2e_quantiles);
# sourced, not run. After `set -euo pipefail`, the script's own options parsed:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_build             scripts/bootstrap, then BIN: the Release tree build-bench/ (built
#                           here) unless the script's --bin already set BIN
#   bench_services NAME     RUN (.run/NAME, created, with bench/results), the throwaway PostgreSQL
#                           cluster of scripts/devdb (ADMIN its DSN, BASE without the database;
#                           stopped at exit when it was not running before) and a fresh
#                           single-node Apache Kafka in $RUN/kafka (CS_KAFKA_DIR; BROKERS,
#                           exported as CS_KAFKA_BROKERS with CS_LOG_LEVEL=warn; destroyed at
#                           exit). The EXIT trap also sends SIGTERM to every pid of the array pids.
#   bench_template NAME     database NAME, migrated by cs-migrate and seeded by cs-seed: the
#                           template of fresh_db (BENCH_TPL)
#   fresh_db NAME           database NAME anew from the template, then a CHECKPOINT, so that a step
#                           does not pay for the dirty buffers and WAL of the step before
#   now, num X              the time in seconds with decimals; X with 3 decimals (bc prints ".5",
#                           not JSON)
#   psqla ARGS...           psql on ADMIN, unaligned, tuples only, stopping on an error
#   log_secs                seconds since midnight (UTC) of each JSON log line's "ts" on stdin
#   e2e_quantiles BEFORE AFTER  p50, p99 and max (ms) and the count of the events committed
#                           between two /metrics scrapes (files), from the cumulative
#                           cs_event_e2e_latency_seconds histogram, interpolating linearly inside
#                           a bucket (max: the top of its bucket); "p50 p99 max n" on one line

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench_build() {
  "$BENCH_ROOT/scripts/bootstrap"
  if [ -z "${BIN:-}" ]; then
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j"$(nproc)" >/dev/null
    BIN=$BENCH_ROOT/build-bench/bin
  fi
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  "$BENCH_ROOT/scripts/kafka" destroy || true
  [ "$BENCH_STARTED_DB" = 1 ] && "$BENCH_ROOT/scripts/devdb" stop
  true
}

bench_services() {
  RUN=$BENCH_ROOT/.run/$1
  mkdir -p "$RUN" "$BENCH_ROOT/bench/results"
  BENCH_STARTED_DB=0
  export CS_KAFKA_DIR=$RUN/kafka
  pids=()
  trap bench_cleanup EXIT
  "$BENCH_ROOT/scripts/devdb" status >/dev/null 2>&1 || BENCH_STARTED_DB=1
  ADMIN=$("$BENCH_ROOT/scripts/devdb" start)
  BASE=${ADMIN%/*}
  "$BENCH_ROOT/scripts/kafka" destroy
  BROKERS=$("$BENCH_ROOT/scripts/kafka" start)
  export CS_KAFKA_BROKERS=$BROKERS CS_LOG_LEVEL=warn
}

now() { date +%s.%N; }
num() { printf '%.3f' "$1"; }
psqla() { psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 "$@"; }

bench_template() {
  BENCH_TPL=$1
  echo "== template database (migrations + reference data)"
  psqla -c "DROP DATABASE IF EXISTS $BENCH_TPL WITH (FORCE)" -c "CREATE DATABASE $BENCH_TPL"
  "$BIN/cs-migrate" --pg-dsn "$BASE/$BENCH_TPL" >/dev/null
  "$BIN/cs-seed" --pg-dsn "$BASE/$BENCH_TPL" >/dev/null
}

fresh_db() {
  psqla -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 TEMPLATE ${BENCH_TPL:?}" -c "CHECKPOINT"
}

log_secs() { sed -E 's/.*"ts":"[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z".*/\1 \2 \3/' | awk '{printf "%.3f\n", $1 * 3600 + $2 * 60 + $3}'; }

e2e_quantiles() {
  awk '
    FNR == 1 { f++ }
    /^cs_event_e2e_latency_seconds_bucket/ {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      if (f == 1) { before[le] = $NF + 0; next }
      n++; b[n] = (le == "+Inf") ? 1e9 : le + 0; c[n] = $NF - before[le] }
    END {
      total = c[n]
      split("0.5 0.99 1", qs, " ")
      for (k = 1; k <= 3; k++) {
        want = qs[k] * total; prevb = 0; prevc = 0; v = 0
        for (i = 1; i <= n; i++) {
          if (c[i] >= want) { v = (c[i] == prevc || k == 3) ? b[i] : prevb + (b[i] - prevb) * (want - prevc) / (c[i] - prevc); break }
          prevb = b[i]; prevc = c[i]
        }
        printf "%.2f ", v * 1000
      }
      print total + 0
    }' "$1" "$2"
}
