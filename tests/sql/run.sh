#!/usr/bin/env bash
# tests/sql/run.sh - the schema tests: cs-migrate's behaviour and the pgTAP suites.
#
#   tests/sql/run.sh CS_MIGRATE CS_SEED      (ctest runs it; needs CS_PG_DSN, a superuser DSN)
#
# Builds the schema with cs-migrate on an empty database (the template is not used on purpose:
# this is the test of the migrator), checks a second run is a no-op, --status, two concurrent
# migrators, an edited / missing / failing migration and a bad DSN, runs cs-seed, then runs
# every tests/sql/NN_*.sql pgTAP file with pg_prove. Each pgTAP file works inside one transaction
# and rolls back, so the files cannot see each other's rows. Databases are named t_schema_* so
# scripts/test drops leftovers of an interrupted run.
set -euo pipefail

MIGRATE=${1:?usage: run.sh CS_MIGRATE CS_SEED}
SEED=${2:?usage: run.sh CS_MIGRATE CS_SEED}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
MIGRATIONS=$SRC/sql/migrations
: "${CS_PG_DSN:?CS_PG_DSN must name a superuser DSN (scripts/test sets it)}"
unset CS_MIGRATIONS_DIR PGDATABASE
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# DSN of another database on the same server: replace the URI path (keep any ?query).
dsn_for() {
  local base=${CS_PG_DSN%%\?*} query=
  [[ $CS_PG_DSN == *\?* ]] && query="?${CS_PG_DSN#*\?}"
  echo "${base%/*}/$1$query"
}

TMP=$(mktemp -d)
DBS=()
fails=0
cleanup() {
  for db in "${DBS[@]}"; do psql "$CS_PG_DSN" -qX -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

fresh_db() {
  local db=t_schema_$$_$1
  DBS+=("$db")
  psql "$CS_PG_DSN" -qX -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\" TEMPLATE template0" >/dev/null
  dsn_for "$db"
}

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/#   /' <<<"$2"; return 0; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
q() { psql "$1" -qAtX -v ON_ERROR_STOP=1 -c "$2"; }
# cs-migrate on this checkout's migrations (tests that need another directory pass their own).
M() { "$MIGRATE" --migrations-dir "$MIGRATIONS" "$@"; }

nfiles=$(ls "$MIGRATIONS" | grep -cE '^[0-9]{4}_[a-z0-9_]+\.sql$')
nfns=$(ls "$SRC/sql/functions" | grep -cE '^[a-z_][a-z0-9_]*\.sql$')

echo "# cs-migrate on an empty database"
DB=$(fresh_db main)
start=$(date +%s%N)
if out=$(M --pg-dsn "$DB" 2>"$TMP/err"); then
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  pass "cs-migrate builds the whole schema ($nfiles migrations in ${ms} ms)"
else
  fail "cs-migrate builds the whole schema" "$(cat "$TMP/err")"
  echo "1..$n"; exit 1
fi
check "schema_migrations records every file with a sha256" \
  test "$(q "$DB" "SELECT count(*) FROM schema_migrations WHERE checksum ~ '^[0-9a-f]{64}$'")" = "$nfiles"
check "schema_functions records every function file with a sha256" \
  test "$(q "$DB" "SELECT count(*) FROM schema_functions WHERE checksum ~ '^[0-9a-f]{64}$'")" = "$nfns"
check "the recorded checksum is the file's sha256" \
  test "$(q "$DB" "SELECT checksum FROM schema_migrations WHERE version = 1")" = "$(sha256sum "$MIGRATIONS/0001_"*.sql | cut -c1-64)"

out=$(M --pg-dsn "$DB" 2>/dev/null) && rc=0 || rc=$?
check "a second run is a no-op" test "$rc" = 0 -a "$out" = "schema is up to date"
check "... and records nothing new" test "$(q "$DB" "SELECT count(*) FROM schema_migrations")" = "$nfiles"

out=$(M --pg-dsn "$DB" --status 2>/dev/null) && rc=0 || rc=$?
check "--status lists every migration and function file as applied" \
  test "$rc" = 0 -a "$(grep -cE '^[0-9]{4} +applied ' <<<"$out")" = "$nfiles" -a "$(grep -cE '^fn +applied +functions/' <<<"$out")" = "$nfns"

out=$(M --pg-dsn "$DB" --maintain-partitions 2>/dev/null) && rc=0 || rc=$?
check "--maintain-partitions runs partition maintenance (nothing to add right after migrating)" \
  test "$rc" = 0 -a "$(grep -c '^created 0 partition(s) ahead$' <<<"$out")" = 1

echo "# two concurrent migrators"
DB2=$(fresh_db concurrent)
M --pg-dsn "$DB2" >"$TMP/c1" 2>&1 & p1=$!
M --pg-dsn "$DB2" >"$TMP/c2" 2>&1 & p2=$!
rc1=0; rc2=0; wait $p1 || rc1=$?; wait $p2 || rc2=$?
check "both succeed, one applies and the other finds the schema up to date" \
  test "$rc1" = 0 -a "$rc2" = 0 -a "$(cat "$TMP/c1" "$TMP/c2" | grep -c 'schema is up to date')" = 1
check "each migration is recorded once" test "$(q "$DB2" "SELECT count(*) FROM schema_migrations")" = "$nfiles"

echo "# --status before migrating"
DB3=$(fresh_db pending)
out=$(M --pg-dsn "$DB3" --status 2>/dev/null) && rc=0 || rc=$?
check "--status on an empty database lists every migration as pending and creates nothing" \
  test "$rc" = 0 -a "$(grep -cE '^[0-9]{4} +pending ' <<<"$out")" = "$nfiles" -a "$(q "$DB3" "SELECT to_regclass('schema_migrations') IS NULL")" = t

echo "# an edited, a missing and a failing migration"
cp -r "$SRC/sql" "$TMP/edited"
echo "-- an afterthought" >>"$TMP/edited/migrations/0003_learners.sql"
"$MIGRATE" --pg-dsn "$DB" --migrations-dir "$TMP/edited/migrations" >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "an applied migration edited afterwards is refused, naming the file" \
  grep -q "migration 0003_learners.sql was edited after it was applied" "$TMP/err"
check "... with a non-zero exit code" test "$rc" != 0
out=$("$MIGRATE" --pg-dsn "$DB" --migrations-dir "$TMP/edited/migrations" --status 2>/dev/null) && rc=0 || rc=$?
check "--status marks it edited and exits non-zero" test "$rc" != 0 -a "$(grep -c ' edited .*0003_learners.sql' <<<"$out")" = 1

cp -r "$SRC/sql" "$TMP/missing"
rm "$TMP/missing/migrations/0024_grants.sql"
"$MIGRATE" --pg-dsn "$DB" --migrations-dir "$TMP/missing/migrations" >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "an applied migration missing from the directory is refused" \
  test "$rc" != 0 -a "$(grep -c 'applied migration 0024_grants.sql (version 0024) is missing' "$TMP/err")" = 1

cp -r "$SRC/sql" "$TMP/broken"
printf 'CREATE TABLE tap_half_done (id int);\nSELECT * FROM no_such_table;\n' >"$TMP/broken/migrations/0039_broken.sql"
"$MIGRATE" --pg-dsn "$DB" --migrations-dir "$TMP/broken/migrations" >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "a failing migration stops the run with FILE:LINE and the server's message" \
  test "$rc" != 0 -a "$(grep -c '0039_broken.sql:2: relation "no_such_table" does not exist' "$TMP/err")" = 1
check "... and leaves nothing behind (its own transaction rolled back, not recorded)" \
  test "$(q "$DB" "SELECT (to_regclass('tap_half_done') IS NULL)::text || (SELECT count(*) FROM schema_migrations WHERE version = 39)")" = "true0"

cp -r "$SRC/sql" "$TMP/badname"
touch "$TMP/badname/migrations/12_oops.sql"
"$MIGRATE" --pg-dsn "$DB" --migrations-dir "$TMP/badname/migrations" >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "a badly named migration file is refused by name" test "$rc" != 0 -a "$(grep -c "'12_oops.sql' does not match" "$TMP/err")" = 1

echo "# bad DSNs"
"$MIGRATE" --pg-dsn "postgresql://postgres@127.0.0.1:1/nowhere" >"$TMP/out" 2>"$TMP/err" && rc=0 || rc=$?
check "an unreachable server fails with one clear line and exit code 1" \
  test "$rc" = 1 -a "$(wc -l <"$TMP/err")" = 1 -a "$(grep -c 'cs-migrate: .*127.0.0.1.*refused' "$TMP/err")" = 1
"$MIGRATE" --pg-dsn "nonsense=1" >"$TMP/out" 2>"$TMP/err" && rc=0 || rc=$?
check "a malformed DSN fails with a clear message" test "$rc" != 0 -a "$(grep -c 'cs-migrate: .*invalid' "$TMP/err")" = 1
CS_PG_DSN= "$MIGRATE" >"$TMP/out" 2>"$TMP/err" && rc=0 || rc=$?
check "no DSN at all fails and says how to give one" test "$rc" != 0 -a "$(grep -c 'CS_PG_DSN' "$TMP/err")" = 1

echo "# cs-seed"
out=$("$SEED" --pg-dsn "$DB3" 2>"$TMP/err") && rc=0 || rc=$?
check "cs-seed on an unmigrated database fails and says to migrate" test "$rc" != 0 -a "$(grep -c 'run cs-migrate first' "$TMP/err")" = 1
out=$("$SEED" --pg-dsn "$DB2" --scale 1 2>"$TMP/err") && rc=0 || rc=$?
check "cs-seed --scale 1 seeds 10,000 learners and 1,000 mentors" \
  test "$rc" = 0 -a "$(q "$DB2" "SELECT (SELECT count(*) FROM user_career_profiles) || '/' || (SELECT count(*) FROM mentor_profiles)")" = "10000/1000"

echo "1..$n"
pgtap_rc=0
echo "# pgTAP suites"
q "$DB" "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
psql "$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/helpers.sql" >/dev/null
pg_prove -d "$DB" "$HERE"/[0-9][0-9]_*.sql || pgtap_rc=$?

if [ "$fails" != 0 ] || [ "$pgtap_rc" != 0 ]; then
  echo "schema tests: $fails cs-migrate check(s) failed, pg_prove exit $pgtap_rc" >&2
  exit 1
fi
