#!/usr/bin/env bash
# tests/integration/0092-ledger_migration.sh
#      Migrations 0066 and 0067 on a database that has rows already: a schema built up to 0065
#      (the function files as they were, without those that name 0066+ tables) gets ledger rows of
#      several groups and dead letters, then cs-migrate applies the rest. Each group's rows go to
#      its worker's scope: through worker_roles + worker_scopes (cs-progress, its replay group,
#      cs-audit), through the group's dead letters' worker (custom-grp), else the group's own name
#      (bench-x); where two groups of one scope applied one event, the earliest row stays; the
#      key is (effect_scope, event_id); dead letters get user_id from a uuid key. PostgreSQL only.
set -euo pipefail
BIN=${1:?usage: 0092-ledger_migration.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
DB=t_ledger_mig_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

mkdir -p "$T/migrations" "$T/functions"
for f in "$ROOT"/sql/migrations/*.sql; do
  n=$(basename "$f")
  [[ $n < 0066 ]] && cp "$f" "$T/migrations/"
done
cp "$ROOT"/sql/functions/*.sql "$T/functions/"
rm "$T/functions/cs_worker_effect_scopes.sql" "$T/functions/erasures_applied_apply.sql" \
  "$T/functions/mentor_rematch_inputs.sql" "$T/functions/mentor_rematch_response_apply.sql"
# gdpr_erase_user as it was before 0067 (it names dead_letters.user_id now).
sed -i 's/WHERE user_id = \$1 OR msg_key/WHERE msg_key/' "$T/functions/gdpr_erase_user.sql"
psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE template0"
"$BIN/cs-migrate" --pg-dsn "$DSN" --migrations-dir "$T/migrations" --functions-dir "$T/functions" --log-level warn >/dev/null \
  || fail "migrating up to 0065"
q "INSERT INTO processed_events (consumer_group, event_id, topic, kafka_partition, kafka_offset, processed_at) VALUES
 ('cs-progress', '11111111-0000-0000-0000-000000000001', 't', 0, 1, now() - interval '2 h'),
 ('cs-progress-replay-1', '11111111-0000-0000-0000-000000000001', 't', 0, 1, now() - interval '1 h'),
 ('cs-progress-replay-1', '11111111-0000-0000-0000-000000000002', 't', 0, 2, now()),
 ('cs-audit', '11111111-0000-0000-0000-000000000001', 't', 0, 1, now()),
 ('bench-x', '11111111-0000-0000-0000-000000000003', 't', 0, 3, now()),
 ('custom-grp', '11111111-0000-0000-0000-000000000004', 't', 0, 4, now())"
q "INSERT INTO dead_letters (consumer_group, worker, topic, kafka_partition, kafka_offset, dlq_topic, error_class,
                             reason, attempt, msg_key, payload) VALUES
 ('custom-grp', 'progress', 't', 0, 9, 't.dlq', 'decode', 'x', 1, convert_to('AAAAAAAA-0000-4000-8000-000000000001', 'UTF8'), 'p'),
 ('custom-grp', 'progress', 't', 0, 10, 't.dlq', 'decode', 'x', 1, 'not a uuid', 'p')"
"$BIN/cs-migrate" --pg-dsn "$DSN" --log-level warn >/dev/null || fail "migrating 0066 onwards over existing rows"

got=$(q "SELECT string_agg(effect_scope || ' ' || consumer_group || ' ' || right(event_id::text, 1), ', ' ORDER BY effect_scope, event_id)
           FROM processed_events")
want="audit cs-audit 1, bench-x bench-x 3, progress cs-progress 1, progress cs-progress-replay-1 2, progress custom-grp 4"
[ "$got" = "$want" ] || fail "ledger after 0066: '$got', expected '$want'"
[ "$(q "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'processed_events_pkey'")" = "PRIMARY KEY (effect_scope, event_id)" ] \
  || fail "processed_events is not keyed by (effect_scope, event_id)"
got=$(q "SELECT string_agg(kafka_offset || '=' || coalesce(user_id::text, '-'), ' ' ORDER BY kafka_offset) FROM dead_letters")
[ "$got" = "9=aaaaaaaa-0000-4000-8000-000000000001 10=-" ] || fail "dead letters' user_id after 0067: '$got'"
echo "ok: ledger rows moved to their scopes, duplicates of one scope folded, dead letters' user_id from the key"
