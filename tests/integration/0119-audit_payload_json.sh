#!/usr/bin/env bash
# tests/integration/0119-audit_payload_json.sh
#      Migration 0101 turns system_logs.payload from jsonb into json under a log cs-audit already
#      wrote: every payload keeps its text (the jsonb text the worker hashed), `cs-audit verify`
#      passes before and after (redacted rows included), and rows the worker appends afterwards,
#      stored as sent, are the same text jsonb would have printed, and verify too.
set -euo pipefail
BIN=${1:?usage: 0119-audit_payload_json.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
DB=t_audit_json_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() {
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/w.log" ] && tail -5 "$T/w.log" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# The schema as it was before 0101: every migration below it, today's function files.
mkdir "$T/migrations"
for f in "$SRC"/sql/migrations/*.sql; do
  n=$(basename "$f"); [ "${n%%_*}" -lt 0101 ] && cp "$f" "$T/migrations/"
done
psql "$ADMIN" -qc "CREATE DATABASE $DB"
"$BIN/cs-migrate" --pg-dsn "$DSN" --migrations-dir "$T/migrations" --functions-dir "$SRC/sql/functions" \
  >/dev/null 2>"$T/m1.log" || { cat "$T/m1.log"; fail "cs-migrate below 0101"; }
[ "$(q "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'system_logs'::regclass AND attname = 'payload'")" = jsonb ] \
  || fail "the payload is not jsonb before 0101"

export CS_ANCHOR_TOPIC="t.auditjson.$$.anchors"
prefix="t.auditjson.$$."
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
drain() { # events seed
  "$BIN/cs-loadgen" --seed "$2" --learners 200 --days 0 --events "$1" --publish \
    --topic-prefix "$prefix" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }
  "$BIN/cs-audit" --pg-dsn "$DSN" --topics "$topics" --group "g.$$" --log-level=error --drain \
    --session-timeout-ms 6000 --metrics-port -1 2>"$T/w.log" || fail "cs-audit --drain"
}
verify() { # expected redacted rows
  "$BIN/cs-audit" verify --pg-dsn "$DSN" --anchors no >"$T/verify.out" || { cat "$T/verify.out"; fail "verify $*"; }
  grep -q "($1 redacted payloads)" "$T/verify.out" || { cat "$T/verify.out"; fail "expected $1 redacted payloads"; }
}

drain 3000 11
[ "$(q "SELECT count(*) FROM system_logs")" -eq 3000 ] || fail "expected 3000 rows as jsonb"
u=$(q "SELECT user_id FROM system_logs WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
red=$(q "SELECT audit_redact_user('$u')")
[ "$red" -gt 0 ] || fail "nothing redacted"
verify "$red"
before=$(q "SELECT md5(string_agg(log_id || ':' || payload::text, E'\n' ORDER BY log_id)) FROM system_logs")
echo "jsonb: ok (3000 rows, $red redacted, verify intact)"

# 0101 under the written log.
"$BIN/cs-migrate" --pg-dsn "$DSN" >/dev/null 2>"$T/m2.log" || { cat "$T/m2.log"; fail "cs-migrate 0101"; }
[ "$(q "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'system_logs'::regclass AND attname = 'payload'")" = json ] \
  || fail "the payload is not json after 0101"
[ "$(q "SELECT md5(string_agg(log_id || ':' || payload::text, E'\n' ORDER BY log_id)) FROM system_logs")" = "$before" ] \
  || fail "a payload's text changed in the type change"
verify "$red"
echo "0101: ok (every payload's text unchanged, verify intact)"

# Appended as json: stored as sent, the text jsonb prints; redaction and verify as before.
drain 2000 12
[ "$(q "SELECT count(*) FROM system_logs")" -eq 5000 ] || fail "expected 5000 rows"
[ "$(q "SELECT count(*) FROM system_logs WHERE payload::text IS DISTINCT FROM payload::jsonb::text")" -eq 0 ] \
  || fail "a stored payload is not jsonb's text of itself"
red2=$(q "SELECT audit_redact_user('$u')")
verify "$((red + red2))"
[ "$(q "SELECT count(*) FROM system_logs WHERE user_id = '$u' AND payload::text <> cs_audit_redaction_marker()::text")" -eq 0 ] \
  || fail "a payload of the redacted learner is not the marker"
echo "json: ok (5000 rows, payloads as jsonb prints them, $((red + red2)) redacted, verify intact)"
