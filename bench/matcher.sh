#!/usr/bin/env bash
# bench/matcher.sh - cs-matcher's throughput on a cs-loadgen stream. A benchmark, never a test.
#
#   CS_PG_DSN=postgresql://postgres@127.0.0.1:PORT/postgres CS_KAFKA_BROKERS=HOST:PORT \
#     bench/matcher.sh [EVENTS] [LEARNERS] [MENTORS]      (defaults 200000 5000 200)
#
# Needs a migrated cs_template database (scripts/test or cs-migrate makes it) and a broker. Makes a
# scratch database, publishes the stream under a fresh topic prefix, drains it with cs-progress,
# then gives every learner with sessions an active relationship with the mentor of its first
# session (mentors active, accepting, 50 places) so that the stream's triggers find mentors
# (profile updates, low-rated sessions, recommendations), and times cs-matcher draining the
# mentoring and profile topics with its defaults. Prints events/s, proposals, batches; drops the
# database.
set -euo pipefail
EVENTS=${1:-200000}
LEARNERS=${2:-5000}
MENTORS=${3:-200}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/build/bin
: "${CS_PG_DSN:?set CS_PG_DSN to a superuser DSN}" "${CS_KAFKA_BROKERS:?set CS_KAFKA_BROKERS}"
DB=bench_matcher_$$
DSN="${CS_PG_DSN%/*}/$DB"
P="bench.matcher.$$."
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || psql "$CS_PG_DSN" -qX -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; rm -rf "$T"' EXIT
q() { psql "$DSN" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
psql "$CS_PG_DSN" -qX -c "CREATE DATABASE $DB TEMPLATE cs_template"
q "INSERT INTO mentor_profiles (mentor_id, display_name, max_mentees, avg_rating, rating_count)
   SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m, 50, 3 + (m % 20) / 10.0, m % 30 FROM generate_series(1, $MENTORS) m"
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners "$LEARNERS" --mentors "$MENTORS" --events "$EVENTS" \
  --days 0 --seed 5 --log-level error --jsonl "$T/ev.jsonl"
"$BIN/cs-progress" --pg-dsn "$DSN" --group "bp.$$" --drain --metrics-port -1 --log-level error \
  --topics "${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
q "INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, started_at)
   SELECT DISTINCT ON (user_id) mentor_id, user_id, 'active', '2026-01-01'
     FROM career_coaching_sessions WHERE mentor_id IS NOT NULL ORDER BY user_id, scheduled_at"
n=$(grep -cE '"event_type":"(coaching_session_logged|mentor_feedback_given|mentor_availability_changed|learner_profile_updated|user_erasure_requested)"' "$T/ev.jsonl" || true)
mentees=$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'active'")
t0=$(date +%s%N)
"$BIN/cs-matcher" --pg-dsn "$DSN" --group "cs-matcher-bench-$$" --drain --metrics-port -1 --log-level "${LOG:-info}" \
  --topics "${P}cs.mentoring,${P}cs.profile" --derived-topic "${P}cs.derived" 2>"$T/m.err"
[ -z "${KEEP:-}" ] || cp "$T/m.err" /tmp/bench-matcher.err
t1=$(date +%s%N)
totals=$(grep '"matcher totals"' "$T/m.err" | sed 's/.*"fields"://')
awk -v n="$n" -v ns=$((t1 - t0)) -v m="$mentees" -v t="$totals" 'BEGIN {
  printf "cs-matcher: %d events in %.2f s = %.0f events/s (%d learners with a mentor); totals %s\n", n, ns / 1e9, n / (ns / 1e9), m, t }'
