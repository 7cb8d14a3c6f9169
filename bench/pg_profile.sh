#!/usr/bin/env bash
# bench/pg_profile.sh - what PostgreSQL does while something else drains: CPU per backend and
# application, wait events, MultiXact and SLRU traffic, and optionally a perf profile.
#
#   bench/pg_profile.sh --out DIR [--dsn ADMIN] [--apps "progress audit ..."] [--perf]
#                       [--interval S] [--seconds N]
#
# Runs beside a benchmark (e.g. bench/pipeline.sh in another shell, against the same
# scripts/devdb cluster) until SIGINT/SIGTERM, N seconds, or (without --seconds) every application
# of --apps had a backend and none has one any more; then writes DIR/summary.txt:
#  - CPU seconds (user + system, from /proc) of every client backend seen, summed per
#    application_name (the workers connect with theirs: progress, audit, cs-readiness,
#    cs-matcher), and of the other PostgreSQL processes (WAL writer, checkpointer, ...);
#  - pg_stat_activity sampled every S seconds (default 0.2): per application, how many samples
#    were active on CPU (no wait event) or waited, by wait event (DIR/activity.tsv holds them all);
#  - MultiXacts created during the run (next_multixact_id and next_multi_offset of
#    pg_control_checkpoint() after a CHECKPOINT at start and at end: ids and members), and the
#    pg_stat_slru rows that changed (MultiXactOffset, MultiXactMember, Xact, Subtrans, ...);
#  - the tables autovacuum worked on (its workers' queries at each sample: their CPU is
#    PostgreSQL's too, and when they run depends on the timing);
#  - at the end, per database, mxid_age(relminmxid) of the tables whose age is not 0.
# --perf: once every application of --apps has a backend (default: the four workers), records
# `perf record -g` (199 Hz) on those backends until the end; DIR/perf.txt is the flat profile of
# them (self time by symbol) and DIR/perf-mxact.txt the lines naming MultiXact, heap_lock_tuple,
# LWLock or SLRU. The packaged postgres is stripped: perf names its exported functions only, so a
# static function's time lands on the exported one before it.
# Needs the cluster's superuser DSN (default: scripts/devdb dsn) and root (or the postgres user)
# to read the backends' /proc and to perf them. Never part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=
DSN=
APPS="progress audit cs-readiness cs-matcher"
PERF=0
INTERVAL=0.2
SECONDS_MAX=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --dsn) DSN=$2; shift 2 ;;
    --apps) APPS=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --seconds) SECONDS_MAX=$2; shift 2 ;;
    *) echo "usage: bench/pg_profile.sh --out DIR [--dsn ADMIN] [--apps LIST] [--perf] [--interval S] [--seconds N]" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || { echo "pg_profile: --out DIR is required" >&2; exit 2; }
[ -n "$DSN" ] || DSN=$("$ROOT/scripts/devdb" dsn)
mkdir -p "$OUT"
TICK=$(getconf CLK_TCK)
q() { psql "$DSN" -qAtX -F $'\t' -v ON_ERROR_STOP=1 "$@"; }

PG_PID=$(awk '{print $4}' "/proc/$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")/stat")
# "pid<TAB>cpu s" of the postmaster and its children.
pg_cpus() {
  # cat: mawk stops at the first file that vanished since the glob (bench/pipeline.sh's pg_cpus)
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v pp="$PG_PID" -v t="$TICK" '$1 == pp || $4 == pp {printf "%s\t%.2f\n", $1, ($14 + $15) / t}' || true
}
mx_point() {
  q -c "CHECKPOINT" -c "SELECT next_multixact_id, next_multi_offset, next_xid FROM pg_control_checkpoint()"
}
slru() { q -c "SELECT name, blks_zeroed, blks_hit, blks_read, blks_written, blks_exists, flushes, truncates FROM pg_stat_slru"; }

pg_cpus >"$OUT/cpu0.tsv"
mx_point >"$OUT/mx0.tsv"
slru >"$OUT/slru0.tsv"
: >"$OUT/activity.tsv"
: >"$OUT/cpu_all.tsv"
seen=0

PERF_PID=
stop=0
trap 'stop=1' INT TERM
t0=$(date +%s.%N)
while [ "$stop" = 0 ]; do
  now=$(date +%s.%N)
  if [ "$SECONDS_MAX" != 0 ] && [ "$(echo "$now - $t0 >= $SECONDS_MAX" | bc)" = 1 ]; then break; fi
  pg_cpus >>"$OUT/cpu_all.tsv"
  sample=$(q -c "SELECT $now, pid, coalesce(nullif(application_name, ''), backend_type), datname, state,
                        coalesce(wait_event_type, '-'), coalesce(wait_event, '-'),
                        CASE WHEN backend_type = 'autovacuum worker' THEN query ELSE '' END
                 FROM pg_stat_activity WHERE pid <> pg_backend_pid()" 2>/dev/null || true)
  [ -n "$sample" ] && echo "$sample" >>"$OUT/activity.tsv"
  if [ "$PERF" = 1 ] && [ -z "$PERF_PID" ]; then
    pids=$(awk -F'\t' -v apps=" $APPS " 'index(apps, " " $3 " ") {print $2 "\t" $3}' "$OUT/activity.tsv" | sort -u)
    napps=$(echo "$pids" | awk -F'\t' 'NF {print $2}' | sort -u | wc -l)
    if [ "$napps" -ge "$(echo $APPS | wc -w)" ]; then
      perf record -q -F 199 -g -o "$OUT/perf.data" -p "$(echo "$pids" | cut -f1 | paste -sd,)" >/dev/null 2>&1 &
      PERF_PID=$!
    fi
  fi
  # The end, without --seconds: the applications' backends were all there and are all gone.
  napps_now=$(echo "$sample" | awk -F'\t' -v apps=" $APPS " 'index(apps, " " $3 " ") {print $3}' | sort -u | wc -l)
  if [ "$napps_now" -ge "$(echo $APPS | wc -w)" ]; then seen=1; fi
  if [ "$seen" = 1 ] && [ "$napps_now" = 0 ]; then break; fi
  sleep "$INTERVAL" &
  wait $! || true
done
trap - INT TERM
# Each process's CPU at its last sighting (a backend's exit is not a sighting).
pg_cpus >>"$OUT/cpu_all.tsv"
awk -F'\t' '{c[$1] = $2} END {for (p in c) print p "\t" c[p]}' "$OUT/cpu_all.tsv" >"$OUT/cpu1.tsv"
[ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; }
mx_point >"$OUT/mx1.tsv"
slru >"$OUT/slru1.tsv"
q -c "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate" | while read -r db; do
  psql "${DSN%/*}/$db" -qAtX -F $'\t' -c "SELECT '$db', relname, mxid_age(relminmxid), age(relfrozenxid)
      FROM pg_class WHERE relkind IN ('r', 't', 'm') AND mxid_age(relminmxid) > 0
      ORDER BY 3 DESC, 2 LIMIT 15" 2>/dev/null || true
done >"$OUT/mxid_age.tsv"

{
  echo "== CPU seconds per application (client backends) and other PostgreSQL processes"
  awk -F'\t' 'FILENAME == ARGV[1] {c0[$1] = $2; next}
              FILENAME == ARGV[2] {app[$2] = $3; next}
              {d = $2 - ($1 in c0 ? c0[$1] : 0); k = ($1 in app) ? app[$1] : "(other: gone or unsampled)"; s[k] += d; tot += d}
              END {for (k in s) if (s[k] >= 0.01) printf "%-28s %8.2f\n", k, s[k]; printf "%-28s %8.2f\n", "total", tot}' \
    "$OUT/cpu0.tsv" "$OUT/activity.tsv" "$OUT/cpu1.tsv" | sort -k2 -nr
  echo
  echo "== samples per application: active on CPU (state active, no wait event) and by wait event"
  awk -F'\t' '$5 == "active" {w = ($6 == "-") ? "CPU" : $6 ":" $7; n[$3 "\t" w]++}
              END {for (k in n) print n[k] "\t" k}' "$OUT/activity.tsv" | sort -t$'\t' -k2,2 -k1,1nr |
    awk -F'\t' '{printf "%-16s %-40s %6d\n", $2, $3, $1}'
  echo
  echo "== autovacuum: samples per table (a worker's query at each sample)"
  awk -F'\t' '$3 == "autovacuum worker" && $8 != "" {n[$8]++} END {for (k in n) printf "%6d  %s\n", n[k], k}' \
    "$OUT/activity.tsv" | sort -nr | head -20
  echo
  echo "== MultiXacts created (ids, members) and transaction ids used during the run"
  paste "$OUT/mx0.tsv" "$OUT/mx1.tsv" | awk -F'\t' '{split($3, a, ":"); split($6, b, ":");
    printf "multixacts %d  members %d  xids %d\n", $4 - $1, $5 - $2, b[2] - a[2]}'
  echo
  echo "== pg_stat_slru changes (zeroed hit read written exists flushes truncates)"
  awk -F'\t' 'FILENAME == ARGV[1] {for (i = 2; i <= NF; i++) a[$1, i] = $i; next}
              {l = ""; ch = 0; for (i = 2; i <= NF; i++) {d = $i - a[$1, i]; l = l " " d; if (d) ch = 1}
               if (ch) printf "%-16s%s\n", $1, l}' "$OUT/slru0.tsv" "$OUT/slru1.tsv"
  echo
  echo "== mxid_age(relminmxid), age(relfrozenxid) at the end (tables with a MultiXact age)"
  cat "$OUT/mxid_age.tsv"
} >"$OUT/summary.txt"
if [ -n "$PERF_PID" ] && [ -s "$OUT/perf.data" ]; then
  perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -60 >"$OUT/perf.txt" || true
  grep -iE 'multixact|heap_lock_tuple|lwlock|slru|LockBuffer|XactLockTableWait' "$OUT/perf.txt" >"$OUT/perf-mxact.txt" || true
fi
cat "$OUT/summary.txt"
