#!/usr/bin/env bash
# tests/integration/0096-dead_letter_redrive.sh
#      Dead-letter re-drive (issue 16; libcore/src/worker_redrive.c, migration 0072), on the real
#      broker and PostgreSQL, the re-drives run as the worker role cs_worker_progress:
#       1. learner L logs four coaching sessions with mentors M1, M2, M1 and M3 that do not exist
#          yet (a foreign key violation: dead letters of class database, sqlstate 23503), learner
#          E one with M1; then E is erased and an undecodable message keyed by E arrives (a dead
#          letter without payload nor key). 6 dead letters, 6 .dlq records.
#       2. M1 and M2 are created. `cs-replay --dead-letters [progress] --dry-run` (which runs
#          `cs-progress redrive --dry-run`) lists the 6 rows and changes
#          nothing. Two `cs-progress redrive` run at once while another session holds the row of
#          the M2 session: both leave that row (busy); together they apply L's two other sessions
#          once (the held one once released), resolve E's two rows as erased (E's session is not
#          applied, its payload is dropped) and keep M3's row failing (attempts counted, the new
#          reason, the first kept).
#          L's sessions and journey equal those of a database where M1 and M2 existed from the
#          start (computed by cs-progress draining the same topic there). No new .dlq record.
#       3. Again and again: only M3's row is re-driven, up to --max-attempts 3; the next run
#          skips it as exhausted; `--id N --force` re-drives it (still failing), and once M3
#          exists it applies. A resolved row made unresolved again is re-driven as a duplicate
#          (the effect ledger): nothing applies twice. A dead letter re-driven while the live
#          worker consumes the same event again applies once.
#       4. Another worker's handlers: an audit dead letter whose cause is gone is re-driven by
#          `cs-audit redrive` (as cs_worker_audit): logged once, chained, anchored (verify).
#       5. Option errors: --force without --id, a bad --id, a bad --since: exit 2 naming it.
set -euo pipefail
BIN=${1:?usage: 0096-dead_letter_redrive.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_redrive_$$
REF=t_redrive_ref_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
RDSN="${CS_PG_DSN%/*}/$REF"
cleanup() {
  for d in "$DB" "$REF"; do psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
case $DSN in *\?*) fail "CS_PG_DSN with a query string is not supported here" ;; esac
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
qr() { psql "$RDSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
# The worker role, through libpq's options parameter (as 0077 does).
ROLE_DSN="$DSN?options=-c%20role%3Dcs_worker_progress"
psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
psql "$ADMIN" -qc "CREATE DATABASE $REF TEMPLATE cs_template"

prefix="t.redrive.$$."
TOPIC="${prefix}cs.mentoring"
L=11111111-0000-4000-8000-0000000000$(printf '%02d' $(($$ % 100)))
E=eeeeeeee-0000-4000-8000-000000000001
M1=a1000000-0000-4000-8000-000000000001
M2=a2000000-0000-4000-8000-000000000002
M3=a3000000-0000-4000-8000-000000000003

# sessions: "LEARNER MENTOR" lines -> the learner's profile once, then a session per line.
sessions() {
  { "$BIN/cs-produce" --schema learner_profile_updated; "$BIN/cs-produce" --schema coaching_session_logged; } >"$T/ex"
  python3 -c '
import json, sys, uuid
prof, sess = [json.loads(l) for l in open(sys.argv[1])]
seen = set()
for n, line in enumerate(sys.stdin):
    user, mentor = line.split()
    if user not in seen:
        seen.add(user)
        e = dict(prof, user_id=user, event_id=str(uuid.uuid4()))
        print(json.dumps(e))
    e = json.loads(json.dumps(sess))
    e.update(user_id=user, event_id=str(uuid.uuid4()))
    e["payload"].update(session_id=str(uuid.uuid4()), mentor_id=mentor, relationship_id=None,
                        duration_minutes=30 + n)
    print(json.dumps(e))' "$T/ex"
}
printf '%s %s\n' "$L" "$M1" "$L" "$M2" "$L" "$M1" "$L" "$M3" "$E" "$M1" | sessions >"$T/ev.jsonl"
"$BIN/cs-produce" --topic "$TOPIC" --log-level warn "$T/ev.jsonl" || fail "cs-produce"

drain() { # drain DSN GROUP LOG
  "$BIN/cs-progress" --pg-dsn "$1" --topics "$TOPIC" --group "$2" --drain --log-level=info \
    --metrics-port -1 --session-timeout-ms 6000 2>"$3" || { tail -n 20 "$3" >&2; fail "cs-progress --group $2 exited $?"; }
}
mentors() { # mentors QUERY-FN MENTOR...
  local fn=$1 m
  shift
  for m in "$@"; do $fn "INSERT INTO mentor_profiles (mentor_id, display_name) VALUES ('$m', 'mentor $m')"; done
}
dlq_count() { kcat -C -b "$CS_KAFKA_BROKERS" -t "$TOPIC.dlq" -e -q -f '%o\n' 2>/dev/null | wc -l; }

# ---- 1. the dead letters ---------------------------------------------------------------------
drain "$DSN" cs-progress-r$$ "$T/d1.log"
[ "$(q "SELECT count(*) FROM dead_letters WHERE error_class = 'database' AND sqlstate = '23503' AND payload IS NOT NULL")" -eq 5 ] \
  || { q "SELECT id, error_class, sqlstate, reason FROM dead_letters" >&2; fail "expected 5 dead letters of class database (23503)"; }
[ "$(q "SELECT count(*) FROM career_coaching_sessions")" -eq 0 ] || fail "a session was applied without its mentor"
q "INSERT INTO erased_users (user_id, reason) VALUES ('$E', 'user_request')" >/dev/null
printf '%s|not an event of %s\n' "$E" "$E" | kcat -P -b "$CS_KAFKA_BROKERS" -t "$TOPIC" -K '|' || fail "kcat produce"
drain "$DSN" cs-progress-r$$ "$T/d2.log"
[ "$(q "SELECT count(*) FROM dead_letters WHERE user_id = '$E' AND erased AND payload IS NULL AND msg_key IS NULL")" -eq 1 ] \
  || fail "expected E's undecodable message dead-lettered without payload and key"
[ "$(q "SELECT count(*) FROM dead_letters")" -eq 6 ] || fail "expected 6 dead letters"
ndlq=$(dlq_count)
[ "$ndlq" -eq 6 ] || fail "expected 6 .dlq records, found $ndlq"
M3EV=$(python3 -c 'import json, sys
print(*[e["event_id"] for e in map(json.loads, open(sys.argv[1])) if e["payload"].get("mentor_id") == sys.argv[2]])' "$T/ev.jsonl" "$M3")
M3ID=$(q "SELECT id FROM dead_letters WHERE event_id = '$M3EV'")
[ -n "$M3ID" ] || fail "no dead letter of the session with M3"
echo "1. 6 dead letters (5 database, 1 erased without payload), 6 .dlq records"

# The reference: M1 and M2 exist from the start; the same topic drained there.
mentors qr "$M1" "$M2"
drain "$RDSN" cs-progress-ref$$ "$T/ref.log"
[ "$(qr "SELECT count(*) FROM career_coaching_sessions WHERE user_id = '$L'")" -eq 3 ] || fail "the reference has not 3 sessions of L"
SESS="SELECT session_id, user_id, mentor_id, session_type, status, duration_minutes, actual_started_at, topics_covered, mentee_rating, event_id FROM career_coaching_sessions WHERE user_id = '$L' ORDER BY session_id"
JOUR="SELECT user_id, coaching_sessions_completed, content_completed, current_phase FROM career_transformation_progress WHERE user_id = '$L'"
qr "$SESS" >"$T/ref.sess"
qr "$JOUR" >"$T/ref.jour"
ndlq=$(dlq_count) # the reference's own dead letters (M3's session, E's message) went there too

# ---- 2. fixed: dry run, then two re-drives at once -------------------------------------------
mentors q "$M1" "$M2"
STATE="SELECT md5(string_agg(d::text, ',' ORDER BY id)) FROM dead_letters d"
before=$(q "$STATE")
# Through the front-end: cs-replay --dead-letters progress runs cs-progress redrive.
"$BIN/cs-replay" --dead-letters progress --pg-dsn "$ROLE_DSN" --dry-run --log-level warn >"$T/dry" 2>"$T/dry.err" \
  || { cat "$T/dry.err" >&2; fail "cs-replay --dead-letters progress --dry-run exited $?"; }
# Without a worker: every worker with unresolved dead letters (here cs-progress alone), in turn.
"$BIN/cs-replay" --dead-letters --pg-dsn "$DSN" --dry-run --log-level warn >"$T/dryall" 2>"$T/dryall.err" \
  || { cat "$T/dryall.err" >&2; fail "cs-replay --dead-letters --dry-run exited $?"; }
[ "$(head -n 1 "$T/dryall")" = "== progress" ] && [ "$(grep -c '^== ' "$T/dryall")" -eq 1 ] \
  || { cat "$T/dryall" >&2; fail "cs-replay --dead-letters did not run exactly the progress worker's re-drive"; }
[ "$(grep -c $'\twould_redrive$' "$T/dryall")" -eq 5 ] || { cat "$T/dryall" >&2; fail "cs-replay --dead-letters: not 5 rows to re-drive"; }
[ "$(grep -c $'\twould_redrive$' "$T/dry")" -eq 5 ] || { cat "$T/dry" >&2; fail "the dry run does not list 5 rows to re-drive"; }
[ "$(grep -c $'\terased$' "$T/dry")" -eq 1 ] || { cat "$T/dry" >&2; fail "the dry run does not list E's row without payload as erased"; }
grep -q "selected 6, would re-drive 5, exhausted (skipped) 0, erased 1" "$T/dry" || { cat "$T/dry" >&2; fail "dry run summary"; }
[ "$(q "$STATE")" = "$before" ] || fail "the dry run changed dead_letters"
[ "$(q "SELECT count(*) FROM career_coaching_sessions")" -eq 0 ] || fail "the dry run applied sessions"
# (5: E's session still has its payload; a re-drive finds E erased in its transaction.)

# Another session holds the row of L's session with M2 (FOR UPDATE) while two re-drives run at
# once: both leave it (busy), neither waits for it; it is re-driven once the lock is gone.
M2EV=$(python3 -c 'import json, sys
print(*[e["event_id"] for e in map(json.loads, open(sys.argv[1])) if e["payload"].get("mentor_id") == sys.argv[2]])' "$T/ev.jsonl" "$M2")
M2ID=$(q "SELECT id FROM dead_letters WHERE event_id = '$M2EV'")
mkfifo "$T/hold"
psql "$DSN" -qAt -v ON_ERROR_STOP=1 <"$T/hold" >"$T/hold.out" 2>&1 &
holder=$!
exec 3>"$T/hold"
echo "BEGIN; SELECT 'held', id FROM dead_letters WHERE id = $M2ID FOR UPDATE;" >&3
for _ in $(seq 100); do grep -q '^held' "$T/hold.out" && break; sleep 0.1; done
grep -q '^held' "$T/hold.out" || fail "could not lock M2's row: $(cat "$T/hold.out")"
for i in 1 2; do
  "$BIN/cs-progress" redrive --pg-dsn "$ROLE_DSN" --json --batch-size 2 --log-level warn >"$T/r$i.json" 2>"$T/r$i.err" &
  eval "pid$i=$!"
done
wait "$pid1" || { cat "$T/r1.err" >&2; fail "re-drive 1 exited $?"; }
wait "$pid2" || { cat "$T/r2.err" >&2; fail "re-drive 2 exited $?"; }
echo "COMMIT;" >&3
exec 3>&-
wait "$holder" || fail "the session holding M2's row failed"
sum() { python3 -c 'import json, sys; print(sum(json.load(open(f))[sys.argv[1]] for f in sys.argv[2:]))' "$1" "$T/r1.json" "$T/r2.json"; }
[ "$(sum applied)" -eq 2 ] || { cat "$T/r1.json" "$T/r2.json" >&2; fail "the two re-drives applied $(sum applied), expected 2 (M2's row held)"; }
[ "$(sum erased)" -eq 2 ] || { cat "$T/r1.json" "$T/r2.json" >&2; fail "expected E's 2 rows resolved as erased"; }
for i in 1 2; do
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(not any(x["id"] == int(sys.argv[2]) and x["outcome"] == "busy" for x in r["rows"]))' \
    "$T/r$i.json" "$M2ID" || { cat "$T/r$i.json" >&2; fail "re-drive $i did not leave the held row as busy"; }
done
[ "$(q "SELECT redrive_attempts || ':' || (resolved_at IS NULL) FROM dead_letters WHERE id = $M2ID")" = "0:true" ] || fail "the held row was changed"
# M3's row fails in each run that takes it: once, or twice when one run took it after the other
# had committed its attempt (a row re-driven since a run started is left alone).
fails=$(sum still_failing)
[ "$fails" -ge 1 ] && [ "$fails" -le 2 ] || fail "M3's row failed $fails times"
[ "$(sum duplicate)" -eq 0 ] || fail "a duplicate in the first re-drive"
out=$("$BIN/cs-progress" redrive --pg-dsn "$ROLE_DSN" --json --log-level warn --id "$M2ID") || fail "re-drive of M2's row"
[ "$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["applied"])')" -eq 1 ] || fail "M2's row, released, did not apply: $out"
[ "$(q "$SESS")" = "$(cat "$T/ref.sess")" ] || { q "$SESS" >&2; fail "L's sessions differ from the reference"; }
[ "$(q "$JOUR")" = "$(cat "$T/ref.jour")" ] || { q "$JOUR"; cat "$T/ref.jour"; fail "L's journey differs from the reference"; } >&2
[ "$(q "SELECT count(*) FROM career_coaching_sessions WHERE user_id = '$E'")" -eq 0 ] || fail "E's session was applied"
[ "$(q "SELECT string_agg(resolution, ',' ORDER BY resolution) FROM dead_letters WHERE resolved_at IS NOT NULL AND resolved_by = 'redrive'")" = "applied,applied,applied,erased,erased" ] \
  || { q "SELECT id, resolution, resolved_by FROM dead_letters" >&2; fail "expected 3 rows resolved applied, 2 erased"; }
[ "$(q "SELECT count(*) FROM dead_letters WHERE user_id = '$E' AND (payload IS NOT NULL OR msg_key IS NOT NULL OR NOT erased)")" -eq 0 ] \
  || fail "E's dead letters keep a payload or key"
[ "$(q "SELECT redrive_attempts || ':' || (resolved_at IS NULL) || ':' || sqlstate || ':' || (first_reason IS NOT NULL) || ':' || jsonb_array_length(redrive_history) FROM dead_letters WHERE id = $M3ID")" = "$fails:true:23503:true:$fails" ] \
  || { q "SELECT * FROM dead_letters WHERE id = $M3ID" >&2; fail "M3's row: expected $fails attempts, unresolved, the new reason and the first kept"; }
[ "$(dlq_count)" -eq "$ndlq" ] || fail "the re-drive published to the .dlq topic"
[ "$(q "SELECT count(*) FROM dead_letters")" -eq 6 ] || fail "the re-drive recorded new dead letters"
echo "2. dry run wrote nothing; two re-drives at once beside a held row applied L's sessions once (= the reference), E's 2 rows erased, M3 failing"

# ---- 3. the loop guard, --force, a duplicate --------------------------------------------------
redrive() { "$BIN/cs-progress" redrive --pg-dsn "$ROLE_DSN" --json --log-level warn "$@" 2>"$T/rr.err" || { cat "$T/rr.err" >&2; fail "redrive $* exited $?"; }; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
for n in $(seq $((fails + 1)) 3); do
  out=$(redrive)
  [ "$(echo "$out" | field selected)" -eq 1 ] && [ "$(echo "$out" | field still_failing)" -eq 1 ] || fail "run $n: $out"
  [ "$(q "SELECT redrive_attempts FROM dead_letters WHERE id = $M3ID")" -eq "$n" ] || fail "M3's attempts are not $n"
done
out=$(redrive)
[ "$(echo "$out" | field exhausted)" -eq 1 ] && [ "$(echo "$out" | field still_failing)" -eq 0 ] || fail "the loop guard did not skip M3's row: $out"
[ "$(q "SELECT redrive_attempts FROM dead_letters WHERE id = $M3ID")" -eq 3 ] || fail "an exhausted row was re-driven"
out=$(redrive --id "$M3ID" --force)
[ "$(echo "$out" | field still_failing)" -eq 1 ] || fail "--id --force did not re-drive M3's row: $out"
[ "$(q "SELECT redrive_attempts || ':' || jsonb_array_length(redrive_history) FROM dead_letters WHERE id = $M3ID")" = "4:4" ] || fail "expected 4 attempts in M3's history"
mentors q "$M3"
out=$(redrive --id "$M3ID" --force)
[ "$(echo "$out" | field applied)" -eq 1 ] || fail "M3's row did not apply once M3 exists: $out"
[ "$(q "SELECT count(*) FROM career_coaching_sessions WHERE user_id = '$L'")" -eq 4 ] || fail "expected L's 4 sessions"
[ "$(q "SELECT coaching_sessions_completed FROM career_transformation_progress WHERE user_id = '$L'")" -eq $(($(cut -d'|' -f2 "$T/ref.jour") + 1)) ] \
  || fail "L's journey count is not the reference's + 1"
out=$(redrive)
[ "$(echo "$out" | field selected)" -eq 0 ] || fail "a run after everything was resolved selected rows: $out"
# A resolved row made unresolved: re-driven as a duplicate, nothing applied twice.
one=$(q "SELECT min(id) FROM dead_letters WHERE resolution = 'applied'")
q "UPDATE dead_letters SET resolved_at = NULL, resolved_by = NULL, resolution = NULL WHERE id = $one" >/dev/null
jour=$(q "$JOUR")
out=$(redrive --id "$one")
[ "$(echo "$out" | field duplicate)" -eq 1 ] || fail "the applied row re-driven again was not a duplicate: $out"
[ "$(q "$JOUR")" = "$jour" ] || fail "the duplicate changed L's journey"
[ "$(q "SELECT resolution FROM dead_letters WHERE id = $one")" = duplicate ] || fail "the duplicate is not resolved as such"
[ "$(dlq_count)" -eq "$ndlq" ] || fail "a re-drive published to the .dlq topic"
echo "3. loop guard at 3 attempts, --id --force, applied once M3 exists, a duplicate applies nothing"

# Beside the live worker: a session with M4 (missing) is dead-lettered; M4 is created; the same
# event is published again and the live worker drains it while a re-drive runs: whichever comes
# second finds it applied (the effect ledger), so it applies once.
M4=a4000000-0000-4000-8000-000000000004
printf '%s %s\n' "$L" "$M4" | sessions | tail -n 1 >"$T/s4.jsonl"
"$BIN/cs-produce" --topic "$TOPIC" --log-level warn "$T/s4.jsonl" || fail "cs-produce S4"
drain "$DSN" cs-progress-r$$ "$T/d3.log"
S4ID=$(q "SELECT id FROM dead_letters WHERE event_id = '$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["event_id"])' "$T/s4.jsonl")'")
[ -n "$S4ID" ] || fail "S4 was not dead-lettered"
mentors q "$M4"
"$BIN/cs-produce" --topic "$TOPIC" --log-level warn "$T/s4.jsonl" || fail "cs-produce S4 again"
drain "$DSN" cs-progress-r$$ "$T/d4.log" &
live=$!
out=$(redrive --id "$S4ID")
wait "$live" || fail "the live worker beside the re-drive failed"
[ "$(echo "$out" | field applied)" -eq 1 ] || [ "$(echo "$out" | field duplicate)" -eq 1 ] || fail "S4's re-drive: $out"
[ "$(q "SELECT count(*) FROM career_coaching_sessions WHERE user_id = '$L'")" -eq 5 ] || fail "expected L's 5 sessions"
[ "$(q "SELECT coaching_sessions_completed FROM career_transformation_progress WHERE user_id = '$L'")" -eq $(($(cut -d'|' -f2 "$T/ref.jour") + 2)) ] \
  || fail "S4 applied twice (or not at all) beside the live worker"
[ "$(q "SELECT resolution IS NOT NULL FROM dead_letters WHERE id = $S4ID")" = t ] || fail "S4's dead letter is not resolved"
echo "   beside the live worker: S4 applied once ($(echo "$out" | field applied) by the re-drive)"

# ---- 4. another worker's handlers: cs-audit -----------------------------------------------------
# An audit dead letter whose cause is gone (made from L's valid event: its decoder and handler
# accept it): `cs-audit redrive`, as cs_worker_audit, appends it to the log once, chained and
# anchored (cs-audit verify), and resolves the row.
export CS_ANCHOR_TOPIC="${prefix}anchors"
AID=$(q "INSERT INTO dead_letters (consumer_group, worker, topic, kafka_partition, kafka_offset, dlq_topic,
           error_class, reason, attempt, msg_key, payload, event_id, event_type, user_id)
         SELECT 'cs-audit-r$$', 'audit', topic, kafka_partition, kafka_offset, dlq_topic, 'handler',
           'a handler bug, fixed since', 1, msg_key, payload, event_id, event_type, user_id
           FROM dead_letters WHERE id = $one RETURNING id" | head -n 1)
AEV=$(q "SELECT event_id FROM dead_letters WHERE id = $AID")
audit_redrive() { "$BIN/cs-audit" redrive --pg-dsn "$DSN?options=-c%20role%3Dcs_worker_audit" --json --log-level warn 2>"$T/ar.err" || { cat "$T/ar.err" >&2; fail "cs-audit redrive exited $?"; }; }
out=$(audit_redrive)
[ "$(echo "$out" | field applied)" -eq 1 ] && [ "$(echo "$out" | field selected)" -eq 1 ] || fail "cs-audit redrive: $out"
[ "$(q "SELECT count(*) FROM system_logs WHERE event_id = '$AEV'")" -eq 1 ] || fail "the audit row is not in system_logs once"
[ "$(q "SELECT resolution FROM dead_letters WHERE id = $AID")" = applied ] || fail "the audit dead letter is not resolved"
out=$(audit_redrive)
[ "$(echo "$out" | field selected)" -eq 0 ] || fail "cs-audit redrive again: $out"
[ "$(q "SELECT count(*) FROM system_logs")" -eq 1 ] || fail "the audit log has not exactly 1 row"
"$BIN/cs-audit" verify --pg-dsn "$DSN" --anchors yes --log-level warn >"$T/verify" 2>&1 || { cat "$T/verify" >&2; fail "cs-audit verify after the re-drive"; }
echo "4. cs-audit redrive: the fixed audit dead letter logged once, chained and anchored"

# ---- 5. option errors ------------------------------------------------------------------------
refuse() { # refuse WORD ARGS...: exit 2, WORD in the message
  local word=$1 rc=0
  shift
  "$BIN/cs-progress" redrive --pg-dsn "$DSN" "$@" >/dev/null 2>"$T/err" || rc=$?
  [ "$rc" -eq 2 ] && grep -q -- "$word" "$T/err" || { cat "$T/err" >&2; fail "redrive $*: exit $rc, expected 2 naming $word"; }
}
refuse --force --force
refuse --id --id 3,x
refuse --since --since yesterday-ish
refuse error-class --error-class nonsense
echo "5. option errors refused"
echo "ok"
