#!/usr/bin/env bash
# tests/integration/0097-matcher_pipeline.sh
#      cs-matcher end to end: a cs-loadgen stream (5,000 events, 300 learners without a mentor:
#      they must propose nothing) plus targeted events for learners with mentors, drained by
#      cs-progress then cs-matcher. Every trigger fires for the learners the test set up for it
#      and for no one else (too few ratings, the cooldown, a readiness change without a stage
#      change, the mentees an over-capacity mentor keeps); the nine requests share five places,
#      assigned together: five proposals within capacity, never to an excluded mentor, four
#      events with proposed_mentor_id null; each event on the derived topic once (cs-audit logs
#      each id once); a replay (offsets rewound) writes nothing and emits nothing. Then answers
#      (mentor_rematch_responded): an acceptance activates its proposal and ends the old
#      relationship, a refusal declines it, a second answer and an unknown proposal change
#      nothing. cs-matcher runs as its role, cs_worker_matching, throughout.
set -euo pipefail
BIN=${1:?usage: 0097-matcher_pipeline.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_matcher_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
msgs() { kcat -C -b "$CS_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
P="t.matcher.$$."
derived="${P}cs.derived"
rin="${P}readiness.in"

. "$(dirname "$0")/matcher_scenario.sh"
scenario_db
scenario_events
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 300 --mentors 30 --events 5000 --days 0 \
  --seed 11 --log-level warn --jsonl "$T/ev.jsonl" || fail "cs-loadgen"
pub() { "$BIN/cs-produce" --log-level warn --topic "$1" "${@:3}" "$2" || fail "cs-produce $2"; }
pub "${P}cs.mentoring" "$T/mentoring.jsonl"
pub "${P}cs.profile" "$T/profile.jsonl"
pub "$rin" "$T/readiness.jsonl" --allow-derived
run() { "$@" --pg-dsn "$DSN" --drain --metrics-port -1 --log-level warn --session-timeout-ms 6000; }
run "$BIN/cs-progress" --group "p.$$" --topics "${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile" \
  2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress"; }
[ "$(q "SELECT count(*) FROM career_coaching_sessions WHERE user_id = '$A' AND mentee_rating IS NOT NULL")" -eq 3 ] \
  || fail "cs-progress did not store A's three rated sessions"
as_role() { echo "$DSN?options=-c%20role%3D$1"; }
mt() { "$BIN/cs-matcher" --pg-dsn "$(as_role cs_worker_matching)" --drain --metrics-port -1 --log-level warn \
  --session-timeout-ms 6000 --group "cs-matcher-t$$" --topics "${P}cs.mentoring,${P}cs.profile,$rin" --derived-topic "$derived" "$@"; }
mt 2>"$T/m1.err" || { cat "$T/m1.err"; fail "cs-matcher"; }
grep -q '"level":"warn"' "$T/m1.err" && { cat "$T/m1.err"; fail "cs-matcher warned"; }

# Downstream: cs-audit logs the derived events (payload as JSON), each id once.
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$derived" --group "a.$$" --anchor-topic "${P}anchors" --drain \
  --metrics-port -1 --log-level error --session-timeout-ms 6000 2>"$T/audit.err" || { cat "$T/audit.err"; fail "cs-audit"; }
got=$(q "SELECT string_agg(user_id || ':' || (payload->>'reason') || ':' || coalesce(payload->>'current_mentor_id', '-'), ' ' ORDER BY user_id)
           FROM system_logs WHERE event_type = 'mentor_rematch_proposed'")
want="$A:low_session_ratings:$M0 $B:goals_changed:$M0 $C:mentor_unavailable:$M5 $D:mentor_unavailable:$M5 $E:mentor_unavailable:$M5 $F:mentor_unavailable:$M6 $I:mentor_recommended:$M0 $L:goals_changed:$M0 $R:learner_requested:-"
[ "$got" = "$want" ] || fail "proposed events: got [$got], want [$want]"
[ "$(q "SELECT count(DISTINCT event_id) || '/' || count(*) FROM system_logs WHERE event_type = 'mentor_rematch_proposed'")" = "9/9" ] \
  || fail "cs-audit did not log 9 distinct derived events once each"
[ "$(msgs "$derived")" -eq 9 ] || fail "the derived topic holds $(msgs "$derived") events, want 9"
[ "$(q "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "the outbox is not empty"
echo "triggers: ok ($got)"

# The assignment: 9 requests, 5 places (N1 2, N2 2, N3 1): all five filled, none over capacity.
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'proposed'")" -eq 5 ] || fail "expected 5 proposals"
[ "$(q "SELECT count(*) FROM system_logs WHERE event_type = 'mentor_rematch_proposed' AND payload->>'proposed_mentor_id' IS NULL")" -eq 4 ] \
  || fail "expected 4 events without a mentor"
[ "$(q "SELECT count(*) FROM (SELECT r.mentor_id FROM mentorship_relationships r JOIN mentor_profiles m USING (mentor_id)
        WHERE r.status = 'proposed' GROUP BY r.mentor_id, m.max_mentees, m.current_mentee_count
        HAVING count(*) > m.max_mentees - m.current_mentee_count) x")" -eq 0 ] || fail "a mentor is over capacity"
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'proposed' AND mentor_id NOT IN ('$N1', '$N2', '$N3')")" -eq 0 ] \
  || fail "a proposal names a mentor without room"
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'proposed' AND mentee_id = '$A' AND mentor_id = '$N1'")" -eq 0 ] \
  || fail "A was proposed N1, which it declined"
# Each row agrees with its event: proposal id, mentor, score in the reasons.
[ "$(q "SELECT count(*) FROM mentorship_relationships r JOIN system_logs s ON s.event_type = 'mentor_rematch_proposed'
        AND (s.payload->>'proposal_id')::uuid = r.relationship_id AND (s.payload->>'proposed_mentor_id')::uuid = r.mentor_id
        AND s.event_id = r.event_id AND s.user_id = r.mentee_id
        WHERE r.status = 'proposed' AND r.match_reasons->>'proposed_by' = 'cs-matcher'
          AND (r.match_reasons->'pair'->>'score')::numeric BETWEEN r.match_score - 0.01 AND r.match_score + 0.01")" -eq 5 ] \
  || { q "SELECT relationship_id, match_score, match_reasons FROM mentorship_relationships WHERE status = 'proposed'"; fail "rows and events disagree"; }
echo "assignment: ok (5 proposals within capacity, 4 without a mentor)"

# Replay: offsets rewound, another batch size: nothing written, nothing emitted.
state() { q "SELECT md5(string_agg(t::text, '|' ORDER BY relationship_id)) FROM mentorship_relationships t"; }
before=$(state)
q "DELETE FROM consumer_offsets WHERE consumer_group = 'cs-matcher-t$$'"
mt --batch-size 3 2>"$T/m2.err" || { cat "$T/m2.err"; fail "cs-matcher replay"; }
[ "$(state)" = "$before" ] || fail "the replay changed mentorship_relationships"
sleep 1
[ "$(msgs "$derived")" -eq 9 ] || fail "the replay emitted events"
echo "replay: ok (nothing changed, nothing emitted)"

# Answers: the first proposal (by learner) accepted, then accepted again; the second declined; an
# unknown proposal accepted.
read -r P1 U1 OLD1 <<<"$(q "SELECT r.relationship_id, r.mentee_id, r.match_reasons->>'replaces' FROM mentorship_relationships r
                           WHERE r.status = 'proposed' ORDER BY r.mentee_id LIMIT 1" | tr '|' ' ')"
read -r P2 U2 <<<"$(q "SELECT relationship_id, mentee_id FROM mentorship_relationships WHERE status = 'proposed'
                       ORDER BY mentee_id OFFSET 1 LIMIT 1" | tr '|' ' ')"
M1=$(q "SELECT mentor_id FROM mentorship_relationships WHERE relationship_id = '$P1'")
n1=$(q "SELECT current_mentee_count FROM mentor_profiles WHERE mentor_id = '$M1'")
resp() { evt mentor_rematch_responded "$1" "$2" 02 "{\"proposal_id\":\"$3\",\"response\":\"$4\"}"; }
{
  resp "$U1" "$(u 641)" "$P1" accepted; resp "$U1" "$(u 642)" "$P1" declined
  resp "$U2" "$(u 643)" "$P2" declined; resp "$U2" "$(u 644)" "$(u 999)" accepted
} >"$T/responses.jsonl"
pub "${P}cs.mentoring" "$T/responses.jsonl"
mt 2>"$T/m3.err" || { cat "$T/m3.err"; fail "cs-matcher (answers)"; }
[ "$(q "SELECT string_agg(outcome, ',' ORDER BY event_id) FROM mentor_rematch_responses")" = "activated,already_closed,declined,unknown_proposal" ] \
  || fail "answer outcomes: $(q "SELECT string_agg(outcome, ',' ORDER BY event_id) FROM mentor_rematch_responses")"
[ "$(q "SELECT status FROM mentorship_relationships WHERE relationship_id = '$P1'")" = active ] || fail "the accepted proposal is not active"
[ "$(q "SELECT status FROM mentorship_relationships WHERE relationship_id = '$P2'")" = declined ] || fail "the declined proposal is not declined"
[ "$(q "SELECT status || ':' || end_reason FROM mentorship_relationships WHERE mentee_id = '$U1' AND mentor_id = '$OLD1'")" = "ended:mismatch" ] \
  || [ "$(q "SELECT status || ':' || end_reason FROM mentorship_relationships WHERE mentee_id = '$U1' AND mentor_id = '$OLD1'")" = "ended:mentor_unavailable" ] \
  || fail "the old relationship of $U1 did not end"
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE mentee_id = '$U1' AND status = 'active'")" -eq 1 ] || fail "$U1 has not exactly one active mentor"
[ "$(q "SELECT current_mentee_count FROM mentor_profiles WHERE mentor_id = '$M1'")" -eq $((n1 + 1)) ] || fail "the new mentor's count did not move"
[ "$(msgs "$derived")" -eq 9 ] || fail "answers emitted events"
echo "answers: ok (accepted, declined, a second answer and an unknown proposal ignored)"

# A replay beside a new event: offsets rewound once more, G (kept by over-capacity M6) now asks for
# a mentor. The replayed events request nothing (their ids are in the ledger), so they take no
# place from G: G alone is proposed, to a mentor with room. (M5's leave is in its profile by now,
# as the mentoring app keeps it.)
q "UPDATE mentor_profiles SET availability_status = 'on_leave' WHERE mentor_id = '$M5'"
evt mentor_rematch_requested $G "$(u 651)" 03 "{\"request_id\":\"$(u 751)\"}" >"$T/g.jsonl"
pub "${P}cs.mentoring" "$T/g.jsonl"
q "DELETE FROM consumer_offsets WHERE consumer_group = 'cs-matcher-t$$'"
mt 2>"$T/m4.err" || { cat "$T/m4.err"; fail "cs-matcher (replay beside a request)"; }
[ "$(msgs "$derived")" -eq 10 ] || fail "expected one more event (G's), the derived topic holds $(msgs "$derived")"
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'proposed' AND mentee_id = '$G'
        AND match_reasons->>'trigger' = 'explicit_request'")" -eq 1 ] || fail "G was not proposed a mentor"
[ "$(q "SELECT count(*) FROM (SELECT r.mentor_id FROM mentorship_relationships r JOIN mentor_profiles m USING (mentor_id)
        WHERE r.status = 'proposed' GROUP BY r.mentor_id, m.max_mentees, m.current_mentee_count
        HAVING count(*) > m.max_mentees - m.current_mentee_count) x")" -eq 0 ] || fail "a mentor is over capacity"
echo "replay beside a request: ok (only G proposed)"
