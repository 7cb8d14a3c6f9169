#!/usr/bin/env bash
# tests/integration/0076-audit_tamper.sh
#      The audit log keeps its promise (issue 14): cs-audit logs a cs-loadgen stream and anchors its
#      chain heads on a Kafka topic of its own; then, each on its own copy of the database, a
#      superuser tampers with the log and `cs-audit verify` must exit 1 naming the chain:
#        tail        deletes the last rows of a chain                       (head check)
#        tail_head   deletes the last rows and sets the head back           (anchor check)
#        chain       deletes every row of a chain, keeps its head           (head check)
#        chain_head  deletes every row of a chain and its head              (anchor check)
#        logged_at   moves a chain's last rows out of the range (logged_at), and shifts another
#                    chain's row by a second                                (hash covers logged_at)
#        severity    changes a row's severity                               (hash covers severity)
#        version     relabels a version 2 row as version 1                   (no downgrade)
#      and the audit worker's role (cs_worker_audit) can neither set a head back, point it at a
#      row that is not in the log, nor delete it (role). Every case is run and reported; the
#      test fails if any failed. Cases needing anchors run verify with anchors; the others with
#      CS_ANCHORS=no, to show the database-side checks alone catch them.
#      Optional: CS_TEST_TEMPLATE names the template database (default cs_template).
set -uo pipefail
BIN=${1:?usage: 0076-audit_tamper.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_tamper_$$
ADMIN=$CS_PG_DSN
base="${CS_PG_DSN%/*}"
DSN="$base/$DB"
cleanup() {
  for d in $(psql "$ADMIN" -qAt -c "SELECT datname FROM pg_database WHERE datname LIKE '${DB}%'" 2>/dev/null); do
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$1" -qAt -v ON_ERROR_STOP=1 -c "$2"; }
failed=0
passed=0
bad() { echo "FAIL [$1]: $2" >&2; failed=$((failed + 1)); }
good() { echo "ok   [$1]: $2"; passed=$((passed + 1)); }

psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE ${CS_TEST_TEMPLATE:-cs_template}" || die "create database"
prefix="t.tamper.$$."
export CS_ANCHOR_TOPIC="${prefix}anchors"
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done
"$BIN/cs-loadgen" --seed 76 --learners 300 --days 0 --events 3000 --publish --topic-prefix "$prefix" \
  2>"$T/gen.log" || { cat "$T/gen.log"; die "cs-loadgen"; }
# Nothing publishes to the derived topic: made first (a drain gives a missing topic only 10 s to be
# created by its subscription, which a broker busy with parallel tests does not always manage).
"$(dirname "${BASH_SOURCE[0]}")/../../scripts/kafka" tool topics --create --if-not-exists --topic "${prefix}cs.derived" \
  --partitions 4 >"$T/create.out" 2>&1 || { cat "$T/create.out"; die "topics --create ${prefix}cs.derived"; }
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$topics" --group "g.$$" --drain --log-level=error \
  --session-timeout-ms 6000 2>"$T/audit.err" || { cat "$T/audit.err"; die "cs-audit exited $?"; }
rows=$(q "$DSN" "SELECT count(*) FROM system_logs")
[ "$rows" -gt 2500 ] || die "only $rows rows logged"

verify() { "$BIN/cs-audit" verify --pg-dsn "$1" --log-level=error >"$T/out" 2>&1; }
out() { sed 's/^/      /' "$T/out" >&2; }
verify "$DSN"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "intact: $rows rows" "$T/out" && grep -Eq "[1-9][0-9]* anchors match" "$T/out"; then
  good intact "$(head -1 "$T/out")"
else
  bad intact "verify exited $rc on the untouched log, or checked no anchor"; out
fi

# The chains tampered with: distinct chains with at least 10 rows.
mapfile -t C < <(q "$DSN" "SELECT chain_key FROM audit_chain_heads WHERE chain_seq >= 10 ORDER BY chain_key LIMIT 8")
[ "${#C[@]}" -eq 8 ] || die "fewer than 8 chains of 10 rows"

# A copy of the logged database for one case (the anchors on Kafka hold for every copy).
copy() {
  local d="${DB}_$1"
  psql "$ADMIN" -qc "CREATE DATABASE $d TEMPLATE $DB" || die "copy for $1"
  echo "$base/$d"
}
# As a superuser who bypasses the append-only guard and the heads' trigger.
su() { psql "$1" -qAt -v ON_ERROR_STOP=1 -c "SET session_replication_role = replica" \
  -c "ALTER TABLE audit_chain_heads DISABLE TRIGGER USER" -c "$2" >/dev/null; }
# expect CASE DSN ANCHORS(yes|no) CHAIN PATTERN: verify exits 1 and names CHAIN with PATTERN.
expect() {
  local name=$1 dsn=$2 anchors=$3 chain=$4 pat=$5 rc
  if [ "$anchors" = no ]; then CS_ANCHORS=no verify "$dsn"; else verify "$dsn"; fi
  rc=$?
  if [ "$rc" -eq 1 ] && grep -Fq "chain $chain: $pat" "$T/out"; then
    good "$name" "$(grep -F "chain $chain: " "$T/out" | head -1 | sed 's/^ *//')"
  else
    bad "$name" "verify exited $rc (expected 1) or did not say 'chain $chain: $pat'"; out
  fi
}

# tail: the last 3 rows of a chain deleted; its head still says where the chain ended.
d=$(copy tail)
su "$d" "DELETE FROM system_logs WHERE chain_key = '${C[0]}' AND chain_seq > (SELECT chain_seq - 3 FROM audit_chain_heads WHERE chain_key = '${C[0]}')"
expect tail "$d" no "${C[0]}" "is truncated"

# tail_head: the same, and the head set back to the new last row: only the anchor knows.
d=$(copy tail_head)
su "$d" "DELETE FROM system_logs WHERE chain_key = '${C[1]}' AND chain_seq > (SELECT chain_seq - 3 FROM audit_chain_heads WHERE chain_key = '${C[1]}')"
su "$d" "UPDATE audit_chain_heads h SET (chain_seq, row_hash, last_offset) = (SELECT l.chain_seq, l.row_hash, l.source_offset FROM system_logs l WHERE l.chain_key = h.chain_key ORDER BY l.chain_seq DESC LIMIT 1) WHERE chain_key = '${C[1]}'"
expect tail_head "$d" yes "${C[1]}" "lost its anchored row"

# chain: every row of a chain deleted, its head left.
d=$(copy chain)
su "$d" "DELETE FROM system_logs WHERE chain_key = '${C[2]}'"
expect chain "$d" no "${C[2]}" "is missing"

# chain_head: every row of a chain and its head deleted: only the anchor knows.
d=$(copy chain_head)
su "$d" "DELETE FROM system_logs WHERE chain_key = '${C[3]}'"
su "$d" "DELETE FROM audit_chain_heads WHERE chain_key = '${C[3]}'"
expect chain_head "$d" yes "${C[3]}" "is missing"

# logged_at: a chain's last 2 rows moved past the range verify walks (to 2100, its default end),
# and another chain's row moved by one second inside it.
d=$(copy logged_at)
su "$d" "UPDATE system_logs SET logged_at = '2101-01-01' WHERE chain_key = '${C[4]}' AND chain_seq > (SELECT chain_seq - 2 FROM audit_chain_heads WHERE chain_key = '${C[4]}')"
expect logged_at_tail "$d" no "${C[4]}" ""
su "$d" "UPDATE system_logs SET logged_at = logged_at + interval '1 second' WHERE chain_key = '${C[5]}' AND chain_seq = 5"
expect logged_at_row "$d" no "${C[5]}" ""
# With an explicit range: rows moved just past --to are caught at the end of the range.
d=$(copy logged_at_range)
now=$(date -u +%Y-%m-%dT%H:%M:%S -d '+1 hour')
later=$(date -u '+%Y-%m-%d %H:%M:%S+00' -d '+2 hours')
su "$d" "UPDATE system_logs SET logged_at = '$later' WHERE chain_key = '${C[4]}' AND chain_seq > (SELECT chain_seq - 2 FROM audit_chain_heads WHERE chain_key = '${C[4]}')"
CS_ANCHORS=no "$BIN/cs-audit" verify --pg-dsn "$d" --log-level=error --from 2000-01-01 --to "$now" >"$T/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -Fq "chain ${C[4]}: " "$T/out"; then
  good logged_at_range "$(grep -F "chain ${C[4]}: " "$T/out" | head -1 | sed 's/^ *//')"
else
  bad logged_at_range "verify --to $now exited $rc (expected 1) or did not name chain ${C[4]}"; out
fi

# severity: one row's severity changed.
d=$(copy severity)
su "$d" "UPDATE system_logs SET severity = 'error' WHERE chain_key = '${C[6]}' AND chain_seq = 4"
expect severity "$d" no "${C[6]}" "the row's columns do not match its row_hash"

# version: a version 2 row relabelled version 1 (whose hash leaves logged_at and severity out).
d=$(copy version)
su "$d" "UPDATE system_logs SET hash_version = 1 WHERE chain_key = '${C[6]}' AND chain_seq = 6"
expect version "$d" no "${C[6]}" ""

# role: cs_worker_audit may not set a head back, point it elsewhere, or delete it.
d=$(copy role)
before=$(q "$d" "SELECT chain_seq || ':' || encode(row_hash, 'hex') FROM audit_chain_heads WHERE chain_key = '${C[7]}'")
role_try() {
  local what=$1 sql=$2
  if psql "$d" -qAt -v ON_ERROR_STOP=1 -c "SET ROLE cs_worker_audit" -c "$sql" >"$T/role.out" 2>&1; then
    bad role "cs_worker_audit could $what"
  else
    good role "cs_worker_audit cannot $what: $(grep -m1 ERROR "$T/role.out")"
  fi
}
role_try "set a head back 3 rows" "UPDATE audit_chain_heads h SET (chain_seq, row_hash, last_offset) = (SELECT l.chain_seq, l.row_hash, l.source_offset FROM system_logs l WHERE l.chain_key = h.chain_key AND l.chain_seq = h.chain_seq - 3) WHERE chain_key = '${C[7]}'"
role_try "point a head at a hash not in the log" "UPDATE audit_chain_heads SET row_hash = sha256('forged'::bytea) WHERE chain_key = '${C[7]}'"
role_try "delete a head" "DELETE FROM audit_chain_heads WHERE chain_key = '${C[7]}'"
role_try "insert a head for rows that do not exist" "INSERT INTO audit_chain_heads (chain_key, chain_seq, row_hash, last_offset) VALUES ('forged/0', 7, sha256('x'::bytea), 7)"
after=$(q "$d" "SELECT chain_seq || ':' || encode(row_hash, 'hex') FROM audit_chain_heads WHERE chain_key = '${C[7]}'")
[ "$before" = "$after" ] || bad role "the head of ${C[7]} moved from $before to $after"
CS_ANCHORS=no verify "$d" || { bad role "verify fails after the refused attempts"; out; }

# The untouched database still verifies, and logging goes on along the anchored heads.
"$BIN/cs-loadgen" --seed 77 --learners 300 --days 0 --events 500 --publish --topic-prefix "$prefix" \
  2>"$T/gen2.log" || { cat "$T/gen2.log"; die "cs-loadgen (second stream)"; }
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$topics" --group "g.$$" --drain --log-level=error \
  --session-timeout-ms 6000 --batch-size 50 2>"$T/audit2.err" || { cat "$T/audit2.err"; die "cs-audit (second drain) exited $?"; }
verify "$DSN"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "intact: $((rows + 500)) rows" "$T/out"; then
  good continued "$(head -1 "$T/out")"
else
  bad continued "verify exited $rc after a second stream"; out
fi

# tick: a burst followed by silence is anchored within a second or two, without a commit after
# it and without a shutdown (kill -9): every head then has an anchor at its own seq.
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$topics" --group "g.$$" --log-level=error \
  --session-timeout-ms 6000 --batch-size 50 --metrics-port -1 2>"$T/audit3.err" &
apid=$!
"$BIN/cs-loadgen" --seed 78 --learners 300 --days 0 --events 300 --publish --topic-prefix "$prefix" \
  2>"$T/gen3.log" || { kill -9 "$apid"; cat "$T/gen3.log"; die "cs-loadgen (third stream)"; }
for _ in $(seq 1 300); do
  [ "$(q "$DSN" "SELECT count(*) FROM system_logs")" -ge $((rows + 800)) ] && break
  sleep 0.1
done
sleep 3
kill -9 "$apid"; wait "$apid" 2>/dev/null || true
q "$DSN" "SELECT chain_key || ' ' || chain_seq FROM audit_chain_heads ORDER BY 1" >"$T/heads"
kcat -C -b "$CS_KAFKA_BROKERS" -t "$CS_ANCHOR_TOPIC" -e -q -f '%s\n' 2>/dev/null |
  python3 -c '
import json, sys
best = {}
for line in sys.stdin:
    a = json.loads(line)
    best[a["chain_key"]] = max(best.get(a["chain_key"], -1), a["chain_seq"])
for k in sorted(best):
    print(k, best[k])' >"$T/anchored"
missing=$(comm -23 <(sort "$T/heads") <(sort "$T/anchored") | head -3)
if [ -s "$T/heads" ] && [ -z "$missing" ]; then
  good tick "every one of $(wc -l <"$T/heads") heads anchored at its seq 3 s after the last commit"
else
  bad tick "heads not anchored 3 s after a burst (kill -9, no shutdown anchor): $missing"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
