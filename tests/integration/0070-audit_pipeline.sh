#!/usr/bin/env bash
# tests/integration/0070-audit_pipeline.sh
#      cs-audit end to end on the loopback broker and a fresh database: a cs-loadgen stream of
#      20,000 events (1% malformed) gives exactly one system_logs row per valid event, per type as
#      the test counts them in the generated JSON Lines; the malformed ones are dead-lettered (topic
#      and table) with reasons; draining again and replaying from offset 0 in a new group append
#      nothing; `cs-audit verify` passes, still passes after a learner's payloads are redacted
#      through audit_redact_user(), and fails at exactly the row a superuser altered or deleted.
set -euo pipefail
BIN=${1:?usage: 0070-audit_pipeline.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_audit_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
# One anchor topic per audit database (README, "cs-audit"): this run's own.
export CS_ANCHOR_TOPIC="t.audit.$$.anchors"
prefix="t.audit.$$."
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done

"$BIN/cs-loadgen" --seed 11 --learners 2000 --days 0 --events 20000 --malformed 0.01 --publish \
  --topic-prefix "$prefix" --jsonl "$T/ev.jsonl" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }
bad=$(sed -n 's/.*"msg":"done".*"malformed":\([0-9]*\).*/\1/p' "$T/gen.log")
[ "${bad:-0}" -gt 0 ] || fail "no malformed events generated"

# What must be in the log, counted from the generated lines: complete events with a known version.
grep -E '^\{"event_id".*"schema_version":[12],.*\}\}$' "$T/ev.jsonl" |
  sed -n 's/.*"event_type":"\([a-z_]*\)".*/\1/p' | sort | uniq -c | awk '{print $2"|"$1}' >"$T/expected"
valid=$(awk -F'|' '{s+=$2} END {print s}' "$T/expected")
[ $((valid + bad)) -eq 20000 ] || fail "expected $valid valid + $bad malformed = 20000"

# Every chain's head (audit_chain_heads) is its last row in the log: seq, hash and source offset.
heads_match() {
  [ "$(q "SELECT count(*) FROM audit_chain_heads")" -eq "$(q "SELECT count(DISTINCT chain_key) FROM system_logs")" ] \
    || fail "$1: a chain has no head row"
  [ "$(q "SELECT count(*) FROM audit_chain_heads h CROSS JOIN LATERAL (SELECT chain_seq, row_hash, source_offset
          FROM system_logs l WHERE l.chain_key = h.chain_key ORDER BY chain_seq DESC LIMIT 1) l
          WHERE (h.chain_seq, h.row_hash, h.last_offset) IS DISTINCT FROM (l.chain_seq, l.row_hash, l.source_offset)")" -eq 0 ] \
    || fail "$1: a chain head is not the chain's last row"
}

# A property librdkafka refuses stops the worker at start, naming the option but not the value.
set +e
"$BIN/cs-audit" --pg-dsn "$DSN" --kafka-props "sasl.password.typo=hunter2" 2>"$T/props.err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a bad --kafka-props was accepted"
grep -q "kafka-props: librdkafka refuses property 'sasl.password.typo'" "$T/props.err" || { cat "$T/props.err"; fail "bad --kafka-props not named"; }
grep -q hunter2 "$T/props.err" && fail "a --kafka-props value was logged"

# Nothing publishes to the derived topic here. A drain gives a missing topic 10 s to be created
# by its subscription, which a broker busy with parallel tests did not always manage: made first.
"$(dirname "${BASH_SOURCE[0]}")/../../scripts/kafka" tool topics --create --if-not-exists --topic "${prefix}cs.derived" \
  --partitions 4 >"$T/create.out" 2>&1 || { cat "$T/create.out"; fail "topics --create ${prefix}cs.derived"; }
audit() { "$BIN/cs-audit" --pg-dsn "$DSN" --topics "$topics" --drain --log-level=error --session-timeout-ms 6000 "$@"; }
audit --group "g.$$" 2>"$T/drain.err" || { cat "$T/drain.err"; fail "cs-audit exited $?"; }
# The log is one JSON object per line: nothing else on stderr (server notices go through the log).
! grep -v '^{' "$T/drain.err" || fail "cs-audit wrote something other than JSON log lines on stderr"

q "SELECT event_type || '|' || count(*) FROM system_logs GROUP BY event_type ORDER BY event_type" >"$T/actual"
diff -u "$T/expected" "$T/actual" || fail "system_logs rows per event type differ from the generated events"
[ "$(q "SELECT count(DISTINCT (source_topic, source_partition, source_offset)) FROM system_logs")" -eq "$valid" ] \
  || fail "a source offset is logged twice"
heads_match "first drain"
echo "log rows: ok ($valid events, $(wc -l <"$T/expected") types, chain heads at each chain's last row)"

[ "$(q "SELECT count(*) FROM dead_letters")" -eq "$bad" ] || fail "expected $bad dead letters in the table"
[ "$(q "SELECT count(*) FROM dead_letters WHERE reason = '' OR error_class NOT IN ('decode', 'validation')")" -eq 0 ] \
  || fail "a dead letter lacks a reason or has the wrong class"
dlq=0
for t in ${topics//,/ }; do
  c=$(kcat -C -b "$CS_KAFKA_BROKERS" -t "$t.dlq" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l || true)
  dlq=$((dlq + c))
done
[ "$dlq" -eq "$bad" ] || fail "dead-letter topics hold $dlq messages, expected $bad"
echo "dead letters: ok ($bad in the table and on the .dlq topics, with reasons)"

"$BIN/cs-audit" verify --pg-dsn "$DSN" >"$T/v1" || { cat "$T/v1"; fail "verify failed on an intact log"; }
grep -q "intact: $valid rows" "$T/v1" || { cat "$T/v1"; fail "verify did not check every row"; }

# Replays append nothing: the same group again, then a new group from offset 0.
audit --group "g.$$" || fail "second drain"
audit --group "g2.$$" || fail "replay drain"
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$valid" ] || fail "a replay appended rows"
echo "replays: ok (nothing appended)"

# More events on the same chains, in small batches: every chain continues from its committed head.
"$BIN/cs-loadgen" --seed 12 --learners 500 --days 0 --events 3000 --publish --topic-prefix "$prefix" \
  2>"$T/gen2.log" || { cat "$T/gen2.log"; fail "cs-loadgen (second stream)"; }
audit --group "g.$$" --batch-size 250 || fail "third drain"
valid=$((valid + 3000))
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$valid" ] || fail "expected $valid rows after the second stream"
heads_match "second stream"
echo "continued chains: ok (3000 more events in small batches, heads at the last rows)"

# The documented redaction path keeps the chain verifiable.
user=$(q "SELECT user_id FROM system_logs GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1")
n=$(q "SELECT audit_redact_user('$user')")
[ "$n" -gt 0 ] || fail "nothing redacted"
"$BIN/cs-audit" verify --pg-dsn "$DSN" >"$T/v2" || { cat "$T/v2"; fail "verify failed after redaction"; }
grep -q "($n redacted payloads)" "$T/v2" || { cat "$T/v2"; fail "redacted rows not reported"; }
echo "redaction: ok ($n payloads redacted, chain intact)"

# A superuser alters one row: verify names exactly that row.
read -r chain seq id < <(q "SELECT chain_key, chain_seq, log_id FROM system_logs WHERE chain_seq = 25 AND payload::text <> cs_audit_redaction_marker()::text ORDER BY chain_key LIMIT 1" | tr '|' ' ')
psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "SET session_replication_role = replica" \
  -c "UPDATE system_logs SET occurred_at = occurred_at + interval '1 second' WHERE log_id = $id" >/dev/null
set +e
"$BIN/cs-audit" verify --pg-dsn "$DSN" >"$T/v3"
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$T/v3"; fail "verify exited $rc after tampering, expected 1"; }
grep -q "BROKEN at chain $chain seq $seq (log_id $id)" "$T/v3" || { cat "$T/v3"; fail "verify did not name the altered row"; }
echo "tampering: ok ($(cat "$T/v3" | head -1))"
echo "1 passed, 0 failed"
