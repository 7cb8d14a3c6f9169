#!/usr/bin/env bash
# tests/integration/0081-migrate_functions.sh
#      cs-migrate's function files (sql/functions/, schema_functions) on real PostgreSQL: a fresh
#      database migrates; a second run applies nothing; a changed function file is applied again,
#      alone; new files go in dependency order ("-- depends:"); a versioned migration gets the
#      function files it "-- requires:" in its own transaction; the refusals (a dependency cycle,
#      an unknown name, an edited versioned migration, a vanished applied function file, a file
#      that defines no function of its name, a failing file as FILE:LINE); a function removed by a
#      migration's "-- removes:" (dropped, its record deleted, --status consistent; refused while
#      a trigger uses it); cs_grant_workers (a migration's grants to every worker role, in one
#      call); and two cs-migrate runs serialise on the advisory lock. Each case is reported; the test fails if any failed.
set -uo pipefail
BIN=${1:?usage: 0081-migrate_functions.sh BUILD_BIN_DIR SOURCE_DIR}
SRC=${2:?usage: 0081-migrate_functions.sh BUILD_BIN_DIR SOURCE_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
T=$(mktemp -d)
DB=t_migfn_$$
ADMIN=$CS_PG_DSN
base="${CS_PG_DSN%%\?*}"
base="${base%/*}"
cleanup() {
  psql "$ADMIN" -qAtX -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${DB}_holder'" >/dev/null 2>&1
  for d in $(psql "$ADMIN" -qAt -c "SELECT datname FROM pg_database WHERE datname LIKE '${DB}%'" 2>/dev/null); do
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
q() { psql "$1" -qAtX -v ON_ERROR_STOP=1 -c "$2"; }
failed=0
passed=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what" >&2; failed=$((failed + 1)); fi
}
fresh() { q "$ADMIN" "DROP DATABASE IF EXISTS ${DB}_$1 WITH (FORCE)" && q "$ADMIN" "CREATE DATABASE ${DB}_$1 TEMPLATE template0" && echo "$base/${DB}_$1"; }
# cs-migrate on a copy of sql/ (migrations and functions side by side).
M() { local dir=$1; shift; "$BIN/cs-migrate" --migrations-dir "$dir/migrations" "$@" 2>"$T/err"; }

cp -r "$SRC/sql" "$T/sql"
nfiles=$(ls "$T/sql/migrations" | grep -cE '^[0-9]{4}_[a-z0-9_]+\.sql$')
nfns=$(ls "$T/sql/functions" | grep -cE '^[a-z_][a-z0-9_]*\.sql$')

# 1. A fresh database, then a second run.
D=$(fresh main)
out=$(M "$T/sql" --pg-dsn "$D"); rc=$?
check "a fresh database migrates ($nfiles migrations, $nfns function files)" \
  test "$rc" = 0 -a "$(q "$D" "SELECT count(*) FROM schema_migrations")" = "$nfiles" \
       -a "$(q "$D" "SELECT count(*) FROM schema_functions")" = "$nfns"
check "... every function file was applied exactly once" \
  test "$(grep -c '^applied functions/' <<<"$out")" = "$nfns"
check "... functions a migration needed were applied with it (schema_functions.applied_with)" \
  test "$(q "$D" "SELECT applied_with FROM schema_functions WHERE name = 'cs_partition_ensure'")" = 7 \
       -a "$(q "$D" "SELECT applied_with IS NULL FROM schema_functions WHERE name = 'cs_seed'")" = t
out=$(M "$T/sql" --pg-dsn "$D"); rc=$?
check "a second run applies nothing" test "$rc" = 0 -a "$out" = "schema is up to date"

# 2. A changed function file is applied again, and only it.
before=$(q "$D" "SELECT string_agg(name || '=' || applied_at, ',' ORDER BY name) FROM schema_functions WHERE name <> 'cs_placement_outcome_types'")
sed -i "s/'freelance', 'internship'\]/'freelance', 'internship', 'apprenticeship']/" "$T/sql/functions/cs_placement_outcome_types.sql"
out=$(M "$T/sql" --pg-dsn "$D" --status); rc=$?
check "--status shows the changed function file as changed (exit 0: not an inconsistency)" \
  test "$rc" = 0 -a "$(grep -cE '^fn +changed +functions/cs_placement_outcome_types.sql' <<<"$out")" = 1
out=$(M "$T/sql" --pg-dsn "$D"); rc=$?
check "a changed function file is applied again, alone" \
  test "$rc" = 0 -a "$(grep -cE '^applied (functions/|[0-9]{4}_)' <<<"$out")" = 1 \
       -a "$(grep -c '^applied functions/cs_placement_outcome_types.sql' <<<"$out")" = 1
check "... its new body is in force" \
  test "$(q "$D" "SELECT 'apprenticeship' = ANY (cs_placement_outcome_types())")" = t
check "... its recorded checksum is the file's sha256" \
  test "$(q "$D" "SELECT checksum FROM schema_functions WHERE name = 'cs_placement_outcome_types'")" = "$(sha256sum "$T/sql/functions/cs_placement_outcome_types.sql" | cut -c1-64)"
check "... and no other function file was touched" \
  test "$(q "$D" "SELECT string_agg(name || '=' || applied_at, ',' ORDER BY name) FROM schema_functions WHERE name <> 'cs_placement_outcome_types'")" = "$before"

# 3. New files in dependency order: fa_outer (a SQL function, its body checked at creation)
#    calls fz_inner, which sorts after it by name.
cat >"$T/sql/functions/fa_outer.sql" <<'SQL'
-- depends: fz_inner
CREATE OR REPLACE FUNCTION fa_outer() RETURNS integer LANGUAGE sql AS $$ SELECT fz_inner() + 1 $$;
SQL
cat >"$T/sql/functions/fz_inner.sql" <<'SQL'
CREATE OR REPLACE FUNCTION fz_inner() RETURNS integer LANGUAGE sql AS $$ SELECT 41 $$;
SQL
out=$(M "$T/sql" --pg-dsn "$D"); rc=$?
check "new function files are applied in dependency order (fz_inner before fa_outer)" \
  test "$rc" = 0 -a "$(grep -oE '^applied functions/[^ ]+' <<<"$out" | tr '\n' ' ')" = "applied functions/fz_inner.sql applied functions/fa_outer.sql "
check "... and work" test "$(q "$D" "SELECT fa_outer()")" = 42

# 4. A versioned migration that calls a function while it runs gets it first, in its transaction.
cat >"$T/sql/functions/fy_helper.sql" <<'SQL'
-- depends: fz_inner
CREATE OR REPLACE FUNCTION fy_helper() RETURNS integer LANGUAGE sql AS $$ SELECT fz_inner() * 2 $$;
SQL
cat >"$T/sql/migrations/0900_uses_helper.sql" <<'SQL'
-- requires: fy_helper
CREATE TABLE t_helped AS SELECT fy_helper() AS v;
SQL
out=$(M "$T/sql" --pg-dsn "$D"); rc=$?
check "a migration's required function file is applied before it, in its transaction" \
  test "$rc" = 0 -a "$(q "$D" "SELECT v FROM t_helped")" = 82 \
       -a "$(q "$D" "SELECT applied_with FROM schema_functions WHERE name = 'fy_helper'")" = 900
cat >"$T/sql/functions/fx_late.sql" <<'SQL'
CREATE OR REPLACE FUNCTION fx_late() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
SQL
printf -- '-- requires: fx_late\nCREATE TABLE t_late AS SELECT fx_late() AS v;\nSELECT * FROM no_such_table;\n' >"$T/sql/migrations/0901_fails.sql"
M "$T/sql" --pg-dsn "$D" >/dev/null; rc=$?
check "a failing migration names FILE:LINE and takes its required function file back with it" \
  test "$rc" != 0 -a "$(grep -c '0901_fails.sql:3: relation "no_such_table" does not exist' "$T/err")" = 1 \
       -a "$(q "$D" "SELECT count(*) FROM schema_functions WHERE name = 'fx_late'")" = 0 \
       -a "$(q "$D" "SELECT to_regprocedure('fx_late()') IS NULL")" = t
rm "$T/sql/migrations/0901_fails.sql" "$T/sql/functions/fx_late.sql"

# 5. Refusals, each before anything is applied.
snapshot() { q "$D" "SELECT (SELECT string_agg(name || checksum, ',' ORDER BY name) FROM schema_functions) || (SELECT count(*) FROM schema_migrations)"; }
s0=$(snapshot)
cp -r "$T/sql" "$T/cycle"
sed -i '1i -- depends: fa_outer' "$T/cycle/functions/fz_inner.sql"
M "$T/cycle" --pg-dsn "$D" >/dev/null; rc=$?
check "a dependency cycle is refused, naming it, and nothing is applied" \
  test "$rc" != 0 -a "$(grep -c 'cycle: fa_outer -> fz_inner -> fa_outer' "$T/err")" = 1 -a "$(snapshot)" = "$s0"

cp -r "$T/sql" "$T/unknown"
printf -- '-- requires: no_such_fn\nSELECT 1;\n' >"$T/unknown/migrations/0902_unknown.sql"
M "$T/unknown" --pg-dsn "$D" >/dev/null; rc=$?
check "a migration requiring an unknown function file is refused by name" \
  test "$rc" != 0 -a "$(grep -c '0902_unknown.sql requires no_such_fn, but there is no .*/functions/no_such_fn.sql' "$T/err")" = 1 -a "$(snapshot)" = "$s0"

cp -r "$T/sql" "$T/edited"
echo "-- an afterthought" >>"$T/edited/migrations/0003_learners.sql"
echo "-- also changed" >>"$T/edited/functions/fz_inner.sql"
M "$T/edited" --pg-dsn "$D" >/dev/null; rc=$?
check "an applied versioned migration with a changed checksum is refused, naming it" \
  test "$rc" != 0 -a "$(grep -c 'migration 0003_learners.sql was edited after it was applied' "$T/err")" = 1
check "... before the changed function file beside it was applied" test "$(snapshot)" = "$s0"

cp -r "$T/sql" "$T/missing"
rm "$T/missing/functions/fa_outer.sql"
M "$T/missing" --pg-dsn "$D" >/dev/null; rc=$?
check "an applied function file missing from its directory is refused" \
  test "$rc" != 0 -a "$(grep -c 'applied function file fa_outer.sql is missing from' "$T/err")" = 1
out=$(M "$T/missing" --pg-dsn "$D" --status); rc=$?
check "... and --status marks it missing (exit 1)" \
  test "$rc" = 1 -a "$(grep -cE '^fn +missing +functions/fa_outer.sql' <<<"$out")" = 1

cp -r "$T/sql" "$T/misnamed"
echo "CREATE OR REPLACE FUNCTION other_name() RETURNS int LANGUAGE sql AS \$\$ SELECT 1 \$\$;" >"$T/misnamed/functions/fw_named.sql"
M "$T/misnamed" --pg-dsn "$D" >/dev/null; rc=$?
check "a function file that defines no function of its name is refused and rolled back" \
  test "$rc" != 0 -a "$(grep -c 'functions/fw_named.sql ran but defines no function named fw_named' "$T/err")" = 1 \
       -a "$(q "$D" "SELECT to_regprocedure('other_name()') IS NULL")" = t

cp -r "$T/sql" "$T/broken"
printf -- '-- a comment\nCREATE OR REPLACE FUNCTION fz_inner() RETURNS integer LANGUAGE sql AS $$ SELECT nothing FROM no_such_table $$;\n' >"$T/broken/functions/fz_inner.sql"
M "$T/broken" --pg-dsn "$D" >/dev/null; rc=$?
check "a failing function file stops the run with FILE:LINE, its old body and row kept" \
  test "$rc" != 0 -a "$(grep -c 'functions/fz_inner.sql:2: relation "no_such_table" does not exist' "$T/err")" = 1 \
       -a "$(q "$D" "SELECT fa_outer()")" = 42 -a "$(snapshot)" = "$s0"

cp -r "$T/sql" "$T/badname"; touch "$T/badname/functions/Bad-Name.sql"
M "$T/badname" --pg-dsn "$D" >/dev/null; rc=$?
check "a badly named function file is refused by name" \
  test "$rc" != 0 -a "$(grep -c "function file name 'Bad-Name.sql' is not" "$T/err")" = 1

# 6. A function removed: its file deleted and a migration declaring "-- removes:". Before the
#    run --status says removing (exit 0); the run drops the function (every signature, after the
#    migration's own statements) and deletes its record; then everything is consistent. A
#    trigger function still in use is not dropped: the migration fails and changes nothing.
cp -r "$T/sql" "$T/removed"
rm "$T/removed/functions/fa_outer.sql"
cat >"$T/removed/migrations/0903_without_outer.sql" <<'SQL'
-- removes: fa_outer
CREATE TABLE t_removed_at AS SELECT to_regprocedure('fa_outer()') IS NOT NULL AS existed;
SQL
q "$D" "CREATE FUNCTION fa_outer(integer) RETURNS integer LANGUAGE sql AS \$\$ SELECT \$1 \$\$" # an overload
out=$(M "$T/removed" --pg-dsn "$D" --status); rc=$?
check "--status shows a function file removed by a pending migration as removing (exit 0)" \
  test "$rc" = 0 -a "$(grep -cE '^fn +removing +functions/fa_outer.sql' <<<"$out")" = 1
out=$(M "$T/removed" --pg-dsn "$D"); rc=$?
check "a migration with '-- removes: fa_outer' is applied, its statements before the drop" \
  test "$rc" = 0 -a "$(grep -c '^applied 0903_without_outer.sql' <<<"$out")" = 1 \
       -a "$(q "$D" "SELECT existed FROM t_removed_at")" = t
check "... every function fa_outer is dropped (both signatures), fz_inner kept" \
  test "$(q "$D" "SELECT count(*) FROM pg_proc WHERE proname = 'fa_outer'")" = 0 \
       -a "$(q "$D" "SELECT fz_inner()")" = 41
check "... and its schema_functions row deleted, in the migration's transaction" \
  test "$(q "$D" "SELECT count(*) FROM schema_functions WHERE name = 'fa_outer'")" = 0
out=$(M "$T/removed" --pg-dsn "$D" --status); rc=$?
check "then --status is consistent (exit 0, nothing missing) and a run applies nothing" \
  test "$rc" = 0 -a "$(grep -cE 'missing|removing' <<<"$out")" = 0 \
       -a "$(M "$T/removed" --pg-dsn "$D")" = "schema is up to date"
D3=$(fresh removed)
out=$(M "$T/removed" --pg-dsn "$D3"); rc=$?
check "a fresh database migrates with the removal (nothing to drop there)" \
  test "$rc" = 0 -a "$(q "$D3" "SELECT count(*) FROM pg_proc WHERE proname = 'fa_outer'")" = 0 \
       -a "$(q "$D3" "SELECT count(*) FROM schema_migrations")" = "$((nfiles + 2))"
cat >"$T/removed/functions/fv_stamp.sql" <<'SQL'
CREATE OR REPLACE FUNCTION fv_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
SQL
M "$T/removed" --pg-dsn "$D" >/dev/null || echo "applying fv_stamp.sql failed" >&2
q "$D" "CREATE TABLE t_stamped (v integer); CREATE TRIGGER t_stamped_stamp BEFORE INSERT ON t_stamped FOR EACH ROW EXECUTE FUNCTION fv_stamp()"
rm "$T/removed/functions/fv_stamp.sql"
printf -- '-- removes: fv_stamp\nSELECT 1;\n' >"$T/removed/migrations/0905_unstamped.sql"
M "$T/removed" --pg-dsn "$D" >/dev/null; rc=$?
check "a trigger function still in use is not removed: the migration fails, naming it, and changes nothing" \
  test "$rc" != 0 -a "$(grep -c '0905_unstamped.sql: cannot remove function fv_stamp: .*depend' "$T/err")" = 1 \
       -a "$(q "$D" "SELECT count(*) FROM schema_functions WHERE name = 'fv_stamp'")" = 1 \
       -a "$(q "$D" "SELECT count(*) FROM schema_migrations WHERE version = 905")" = 0
rm "$T/removed/migrations/0905_unstamped.sql"
M "$T/removed" --pg-dsn "$D" >/dev/null; rc=$?
check "... and a removed file without a removing migration is still refused" \
  test "$rc" != 0 -a "$(grep -c "applied function file fv_stamp.sql is missing from .*'-- removes: fv_stamp'" "$T/err")" = 1
cp -r "$T/removed" "$T/required"
rm "$T/required/functions/fy_helper.sql"
printf -- '-- removes: fy_helper\nSELECT 1;\n' >"$T/required/migrations/0906_without_helper.sql"
M "$T/required" --pg-dsn "$D" >/dev/null; rc=$?
check "a function a migration requires cannot be removed (a fresh database runs that migration)" \
  test "$rc" != 0 -a "$(grep -c '0900_uses_helper.sql requires fy_helper, but there is no' "$T/err")" = 1

# 7. cs_grant_workers: a migration grants to every worker role (those of worker_roles) in one call.
D4=$(fresh granted)
cp -r "$T/sql" "$T/granted"
cat >"$T/granted/migrations/0907_granted.sql" <<'SQL'
-- requires: cs_grant_workers
CREATE TABLE t_granted (id integer, note text);
CREATE TABLE t_granted_to AS SELECT cs_grant_workers('SELECT, INSERT', 't_granted') AS roles;
SELECT cs_grant_workers('UPDATE (note)', 't_granted');
SQL
M "$T/granted" --pg-dsn "$D4" >/dev/null; rc=$?
workers="cs_worker_audit cs_worker_matching cs_worker_progress cs_worker_readiness"
privs() { # privs ROLE: what ROLE may do on t_granted
  q "$D4" "SELECT has_table_privilege('$1', 't_granted', 'SELECT')::text || has_table_privilege('$1', 't_granted', 'INSERT')::text
             || has_column_privilege('$1', 't_granted', 'note', 'UPDATE')::text || has_column_privilege('$1', 't_granted', 'id', 'UPDATE')::text"
}
ok_all=true
for r in $workers; do [ "$(privs "$r")" = truetruetruefalse ] || { ok_all=false; echo "$r: $(privs "$r")" >&2; }; done
check "cs_grant_workers grants SELECT, INSERT and UPDATE (note) on t_granted to each of the four worker roles" \
  test "$rc" = 0 -a "$ok_all" = true \
       -a "$(q "$D4" "SELECT array_to_string(roles, ' ') FROM t_granted_to")" = "$workers"
check "... and to no other role (cs_app_learner, cs_app_admin)" \
  test "$(privs cs_app_learner)$(privs cs_app_admin)" = falsefalsefalsefalsefalsefalsefalsefalse
out=$(psql "$D4" -qAtX -c "SELECT cs_grant_workers('SELECT', 't_granted; DROP TABLE t_granted')" 2>&1); rc=$?
check "... and refuses a statement's text with ';' in it" \
  test "$rc" != 0 -a "$(grep -c 'must be non-empty, without ";"' <<<"$out")" = 1 \
       -a "$(q "$D4" "SELECT to_regclass('t_granted') IS NOT NULL")" = t

# 8. Two cs-migrate runs serialise on the advisory lock. pg_locks shows the whole cluster's
# locks, and tests running beside this one hold advisory locks of their own (cs-migrate's, the
# outbox relays'): only this database's count.
D2=$(fresh lock)
HERE_DB="database = (SELECT oid FROM pg_database WHERE datname = current_database())"
PGAPPNAME=${DB}_holder psql "$D2" -qAtX -c "SELECT pg_advisory_lock(hashtextextended('careerstream:cs-migrate', 0))" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
  [ "$(q "$D2" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND $HERE_DB")" = 1 ] && break; sleep 0.1
done
"$BIN/cs-migrate" --migrations-dir "$T/sql/migrations" --pg-dsn "$D2" >"$T/w1" 2>&1 & w1=$!
"$BIN/cs-migrate" --migrations-dir "$T/sql/migrations" --pg-dsn "$D2" >"$T/w2" 2>&1 & w2=$!
waiting=0
for _ in $(seq 50); do
  waiting=$(q "$D2" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND $HERE_DB")
  [ "$waiting" = 2 ] && break; sleep 0.1
done
check "while another session holds the lock, both runs wait and apply nothing" \
  test "$waiting" = 2 -a "$(q "$D2" "SELECT to_regclass('schema_migrations') IS NULL")" = t
# End the holder's session (a killed psql would leave its backend asleep, holding the lock).
q "$ADMIN" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${DB}_holder'" >/dev/null
wait "$holder" 2>/dev/null; holder=
rc1=0; rc2=0; wait $w1 || rc1=$?; wait $w2 || rc2=$?
check "then one applies everything and the other finds the schema up to date" \
  test "$rc1" = 0 -a "$rc2" = 0 -a "$(cat "$T/w1" "$T/w2" | grep -c '^schema is up to date$')" = 1
check "... each file recorded once" \
  test "$(q "$D2" "SELECT count(*) FROM schema_functions")" = "$((nfns + 3))" \
       -a "$(q "$D2" "SELECT count(*) FROM schema_migrations")" = "$((nfiles + 1))"

echo "0081: $passed passed, $failed failed"
[ "$failed" = 0 ]
