#!/usr/bin/env bash
# bench/schema_hotpath.sh - write rates of the schema's hot path, as the worker roles see it.
#
#   CS_PG_DSN=postgresql://postgres@127.0.0.1:PORT/postgres bench/schema_hotpath.sh [ROWS] [CS_MIGRATE] [CS_SEED]
#
# Creates a scratch database, migrates and seeds it (scale 1), then times set-based statements
# of ROWS rows (default 100000) the way the workers issue them: learner placeholders
# (cs_worker_progress), user_progress upserts that insert then update, and audit rows
# (cs_worker_audit). Prints rows/s per statement; drops the database. A benchmark, never a test.
set -euo pipefail
ROWS=${1:-100000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIGRATE=${2:-$ROOT/build/bin/cs-migrate}
SEED=${3:-$ROOT/build/bin/cs-seed}
: "${CS_PG_DSN:?set CS_PG_DSN to a superuser DSN}"
DB=bench_schema_$$
base=${CS_PG_DSN%%\?*}
DSN="${base%/*}/$DB"
export PGOPTIONS="-c client_min_messages=warning"
psql "$CS_PG_DSN" -qX -c "CREATE DATABASE $DB TEMPLATE template0"
trap 'psql "$CS_PG_DSN" -qX -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
"$MIGRATE" --pg-dsn "$DSN" >/dev/null 2>&1
"$SEED" --pg-dsn "$DSN" >/dev/null 2>&1

run() { # label role sql
  local t0 t1
  t0=$(date +%s%N)
  psql "$DSN" -qX -v ON_ERROR_STOP=1 -c "SET ROLE $2" -c "$3" >/dev/null
  t1=$(date +%s%N)
  awk -v l="$1" -v n="$ROWS" -v ns=$((t1 - t0)) 'BEGIN { printf "%-44s %8d rows %8.0f ms %9.0f rows/s\n", l, n, ns / 1e6, n / (ns / 1e9) }'
}
UPSERT="INSERT INTO user_progress (user_id, content_id, event_id, last_event_at, status, progress_pct, last_accessed_at)
SELECT md5('learner-' || (n % 10000 + 1))::uuid, md5('content-' || (n / 10000 % 3456 + 1))::uuid, gen_random_uuid(),
       clock_timestamp(), 'in_progress', 50, now()
  FROM generate_series(0, $ROWS - 1) n
ON CONFLICT (user_id, content_id) DO UPDATE SET progress_pct = EXCLUDED.progress_pct, last_event_id = EXCLUDED.event_id,
   last_event_at = EXCLUDED.last_event_at, last_accessed_at = EXCLUDED.last_accessed_at
 WHERE user_progress.last_event_at <= EXCLUDED.last_event_at"

run "learner placeholders (existing learners)" cs_worker_progress \
  "INSERT INTO user_career_profiles (user_id) SELECT md5('learner-' || (n % 10000 + 1))::uuid FROM generate_series(0, $ROWS - 1) n ON CONFLICT DO NOTHING"
run "user_progress upsert (new rows)" cs_worker_progress "$UPSERT"
psql "$DSN" -qX -c "VACUUM ANALYZE user_progress" >/dev/null
run "user_progress upsert (updates)" cs_worker_progress "$UPSERT"
run "system_logs append (3 indexes)" cs_worker_audit \
  "INSERT INTO system_logs (event_id, event_type, user_id, occurred_at, source_topic, source_partition, source_offset, producer,
                            payload, payload_sha256, chain_key, chain_seq, prev_hash, row_hash)
   SELECT gen_random_uuid(), 'lesson_completed', md5('learner-' || (n % 10000 + 1))::uuid, now(), 'cs.learning', n % 64, n, 'bench',
          '{\"content_id\": \"c\", \"progress\": 50}', sha256(n::text::bytea), 'cs.learning/' || (n % 64), n / 64 + 1,
          sha256((n - 1)::text::bytea), sha256(n::text::bytea)
     FROM generate_series(0, $ROWS - 1) n"
