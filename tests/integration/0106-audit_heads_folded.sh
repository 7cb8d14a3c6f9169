#!/usr/bin/env bash
# tests/integration/0106-audit_heads_folded.sh
#      cs-audit sends PostgreSQL one chain-head row per chain and batch, also for chains without a
#      head yet (which write a head row per event): the rows are folded in C to each chain's last
#      (workers/audit.c, fold_last), so the upsert takes the batch's array path and the session's
#      staging table of the heads never receives a row. 20,000 events drained in batches of up to
#      5,000 from fresh chains would otherwise stage thousands of head rows. The heads still end
#      at each chain's last row, and `cs-audit verify` passes.
set -euo pipefail
BIN=${1:?usage: 0106-audit_heads_folded.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_audit_fold_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
wpid=""
cleanup() {
  [ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/w.log" ] && tail -5 "$T/w.log" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
export CS_ANCHOR_TOPIC="t.auditfold.$$.anchors"
prefix="t.auditfold.$$."
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
"$BIN/cs-loadgen" --seed 7 --learners 500 --days 0 --events 20000 --publish \
  --topic-prefix "$prefix" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }

# Published first, so the worker's batches are full (5,000 events over every chain, all new).
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$topics" --group "g.$$" --log-level=error \
  --session-timeout-ms 6000 --batch-size 5000 --batch-ms 1000 --metrics-port -1 2>"$T/w.log" &
wpid=$!
for _ in $(seq 1 240); do
  [ "$(q "SELECT count(*) FROM system_logs")" -ge 20000 ] && break
  kill -0 "$wpid" 2>/dev/null || fail "cs-audit exited"
  sleep 0.5
done
[ "$(q "SELECT count(*) FROM system_logs")" -eq 20000 ] || fail "expected 20000 log rows"

# The worker's session keeps its staging tables (temporary, ON COMMIT PRESERVE ROWS, emptied by each flush). Its table
# statistics reach pg_stat_all_tables when the idle backend flushes them (within ~10 s), all at
# once: the 20,000 rows counted in system_logs' partitions say the flush happened.
flushed=0
for _ in $(seq 1 60); do
  [ "$(q "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_all_tables s JOIN pg_inherits i ON i.inhrelid = s.relid
          WHERE i.inhparent = 'system_logs'::regclass")" -ge 20000 ] && { flushed=1; break; }
  sleep 0.5
done
[ "$flushed" = 1 ] || fail "the worker's table statistics never arrived"
stage=$(q "SELECT count(*) || '|' || coalesce(sum(s.n_tup_ins), 0) FROM pg_stat_all_tables s
            WHERE s.schemaname LIKE 'pg_temp%' AND s.relname LIKE 'cs_stage_%'
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = s.relid AND a.attname = 'last_offset')")
[ "${stage%%|*}" -ge 1 ] || fail "no staging table of the chain heads found ($stage)"
[ "${stage#*|}" -eq 0 ] || fail "${stage#*|} chain-head rows went through the staging table: not folded per chain"
echo "heads: ok (no head row staged; one per chain and batch took the array path)"

# One head per chain, at the chain's last row; and the log verifies.
[ "$(q "SELECT count(*) FROM audit_chain_heads")" -eq "$(q "SELECT count(DISTINCT chain_key) FROM system_logs")" ] \
  || fail "a chain has no head row"
[ "$(q "SELECT count(*) FROM audit_chain_heads h CROSS JOIN LATERAL (SELECT chain_seq, row_hash, source_offset
        FROM system_logs l WHERE l.chain_key = h.chain_key ORDER BY chain_seq DESC LIMIT 1) l
        WHERE (h.chain_seq, h.row_hash, h.last_offset) IS DISTINCT FROM (l.chain_seq, l.row_hash, l.source_offset)")" -eq 0 ] \
  || fail "a chain head is not the chain's last row"
kill -TERM "$wpid"; wait "$wpid" || fail "cs-audit exited $? on TERM"
wpid=""
"$BIN/cs-audit" verify --pg-dsn "$DSN" --anchors no >"$T/verify.out" || { cat "$T/verify.out"; fail "verify"; }
echo "verify: ok ($(head -1 "$T/verify.out"))"
