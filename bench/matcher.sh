#!/usr/bin/env bash
# bench/matcher.sh - cs-matcher's throughput and CPU on a cs-loadgen stream. A benchmark, never a test.
#
#   CS_PG_DSN=postgresql://postgres@127.0.0.1:PORT/postgres CS_KAFKA_BROKERS=HOST:PORT \
#     bench/matcher.sh [EVENTS] [LEARNERS] [MENTORS]      (defaults 200000 5000 200)
#   ... bench/matcher.sh --pipeline [EVENTS]              (default 1000000)
#
# Needs a migrated cs_template database (scripts/test or cs-migrate makes it) and a broker. Makes a
# scratch database, publishes the stream under a fresh topic prefix, drains it with cs-progress,
# and times cs-matcher draining the mentoring and profile topics with its defaults.
#
# The default shape: MENTORS bare mentors (active, accepting, 50 places, no expertise), the stream
# of cs-loadgen --seed 5; every learner with sessions is given an active relationship with the
# mentor of its first session so that the stream's triggers find mentors (profile updates,
# low-rated sessions, recommendations).
# --pipeline: bench/pipeline.sh's shape: the database seeded by cs-seed (1,000 mentors with
# expertise, industries, timezones and 3 to 8 places, 10,000 learner profiles, 3,000 active
# mentorships) and the stream cs-loadgen --seed 2026 --learners 10000 --days 0 --events EVENTS;
# cs-progress drains only the mentoring and profile topics first (the sessions and ratings the
# low-ratings trigger reads).
#
# Prints events/s of cs-matcher's topics, its proposals, its peak RSS and the CPU seconds (user + system) the
# drain cost: the worker, the PostgreSQL cluster (all its processes, the exited backends
# included; the cluster must be this benchmark's alone, e.g. scripts/devdb's) and the broker when
# CS_KAFKA_DIR names scripts/kafka's directory. LOG=debug keeps per-batch lines; KEEP=1 keeps the
# database and copies the worker's log to /tmp/bench-matcher.err; MATCHER=path times another
# cs-matcher binary (a before/after comparison; its read function must be in the database);
# MATCHER_ARGS adds options (e.g. "--batch-size 20000"); TEMPLATE=name copies another migrated
# database than cs_template (the "before" schema of a comparison).
# Drops the database.
set -euo pipefail
PIPELINE=
if [ "${1:-}" = --pipeline ]; then
  PIPELINE=1
  shift
  EVENTS=${1:-1000000}
  LEARNERS=10000
  MENTORS=1000
else
  EVENTS=${1:-200000}
  LEARNERS=${2:-5000}
  MENTORS=${3:-200}
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/build/bin
MATCHER=${MATCHER:-$BIN/cs-matcher}
: "${CS_PG_DSN:?set CS_PG_DSN to a superuser DSN}" "${CS_KAFKA_BROKERS:?set CS_KAFKA_BROKERS}"
DB=bench_matcher_$$
DSN="${CS_PG_DSN%/*}/$DB"
P="bench.matcher.$$."
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || psql "$CS_PG_DSN" -qX -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; rm -rf "$T"' EXIT
q() { psql "$DSN" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
TICK=$(getconf CLK_TCK)
# CPU seconds of process $1: its own, plus its reaped children's with $2 = all.
cpu_of() { awk -v t="$TICK" -v all="${2:-}" '{ s = $14 + $15; if (all) s += $16 + $17; printf "%.2f\n", s / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The PostgreSQL cluster's CPU seconds: the postmaster and its reaped children, plus the live ones.
PM=$(head -1 "$(psql "$CS_PG_DSN" -qAtX -c 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)
pg_cpu() {
  [ -n "$PM" ] || { echo 0; return; }
  local s
  s=$(cpu_of "$PM" all)
  for c in $(cat "/proc/$PM/task/$PM/children" 2>/dev/null); do s=$(echo "$s + $(cpu_of "$c")" | bc); done
  echo "$s"
}
BROKER_PID=$(cat "${CS_KAFKA_DIR:-/nonexistent}/node-1/pid" 2>/dev/null || true)
broker_cpu() { if [ -n "$BROKER_PID" ]; then cpu_of "$BROKER_PID"; else echo 0; fi; }

psql "$CS_PG_DSN" -qX -c "CREATE DATABASE $DB TEMPLATE ${TEMPLATE:-cs_template}"
if [ -n "$PIPELINE" ]; then
  "$BIN/cs-seed" --pg-dsn "$DSN" --log-level error >/dev/null
  "$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners "$LEARNERS" --mentors "$MENTORS" --events "$EVENTS" \
    --days 0 --seed 2026 --log-level error --jsonl "$T/ev.jsonl"
  "$BIN/cs-progress" --pg-dsn "$DSN" --group "bp.$$" --drain --metrics-port -1 --log-level error \
    --topics "${P}cs.mentoring,${P}cs.profile"
else
  q "INSERT INTO mentor_profiles (mentor_id, display_name, max_mentees, avg_rating, rating_count)
     SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m, 50, 3 + (m % 20) / 10.0, m % 30 FROM generate_series(1, $MENTORS) m"
  "$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners "$LEARNERS" --mentors "$MENTORS" --events "$EVENTS" \
    --days 0 --seed 5 --log-level error --jsonl "$T/ev.jsonl"
  "$BIN/cs-progress" --pg-dsn "$DSN" --group "bp.$$" --drain --metrics-port -1 --log-level error \
    --topics "${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
  q "INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, started_at)
     SELECT DISTINCT ON (user_id) mentor_id, user_id, 'active', '2026-01-01'
       FROM career_coaching_sessions WHERE mentor_id IS NOT NULL ORDER BY user_id, scheduled_at"
fi
q "CHECKPOINT; VACUUM ANALYZE" 2>/dev/null || true
# The events of cs-matcher's topics (schemas/topics.json: cs.mentoring and cs.profile).
n=$(grep -cE '"event_type":"(coaching_session_logged|mentor_feedback_given|mentor_availability_changed|mentor_rematch_requested|mentor_rematch_responded|learner_profile_updated|user_erasure_requested)"' "$T/ev.jsonl" || true)
mentees=$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'active'")
pg0=$(pg_cpu)
br0=$(broker_cpu)
t0=$(date +%s%N)
/usr/bin/time -f '%U %S %M' -o "$T/time" "$MATCHER" --pg-dsn "$DSN" --group "cs-matcher-bench-$$" --drain \
  --metrics-port -1 --log-level "${LOG:-info}" --topics "${P}cs.mentoring,${P}cs.profile" \
  --derived-topic "${P}cs.derived" ${MATCHER_ARGS:-} 2>"$T/m.err"
t1=$(date +%s%N)
sleep 0.3 # the backends exit after the worker
pg1=$(pg_cpu)
br1=$(broker_cpu)
[ -z "${KEEP:-}" ] || cp "$T/m.err" /tmp/bench-matcher.err
totals=$(grep '"matcher totals"' "$T/m.err" | sed 's/.*"fields"://')
batches=$(grep -c '"rematch batch assigned"' "$T/m.err" || true)
awk -v n="$n" -v ns=$((t1 - t0)) -v m="$mentees" -v t="$totals" -v w="$(cat "$T/time")" \
  -v pg="$(echo "$pg1 - $pg0" | bc)" -v br="$(echo "$br1 - $br0" | bc)" -v b="$batches" 'BEGIN {
  split(w, c, " ")
  printf "cs-matcher: %d events in %.2f s = %.0f events/s (%d learners with a mentor); totals %s\n", n, ns / 1e9, n / (ns / 1e9), m, t
  printf "cpu s: worker %.2f (user %.2f, sys %.2f), postgres %.2f, broker %.2f, total %.2f%s\n",
    c[1] + c[2], c[1], c[2], pg, br, c[1] + c[2] + pg + br, (b > 0) ? sprintf("; %d batches assigned (LOG=debug)", b) : ""
  printf "peak RSS of the worker: %.1f MiB\n", c[3] / 1024 }'
