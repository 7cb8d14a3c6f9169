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

# Learners (u: ...0001..) and mentors (m: ...0101..): A low ratings, B goals, C D E (mentor M5 on
# leave), F G H (mentor M6 over capacity by one: F is its newest mentee), I (its mentor recommends
# a rematch), J (one low rating only), K (goals, but proposed to a day ago: cooldown), L (readiness
# stage moved), Q (readiness changed, same stage), R (no mentor, asks for one). N1, N2, N3 have
# 2 + 2 + 1 places.
u() { printf '00000000-0000-4000-8000-%012d' "$1"; }
A=$(u 1) B=$(u 2) C=$(u 3) D=$(u 4) E=$(u 5) F=$(u 6) G=$(u 7) H=$(u 8) I=$(u 9) J=$(u 10) K=$(u 11) L=$(u 12) Q=$(u 13) R=$(u 14)
M0=$(u 100) M5=$(u 105) M6=$(u 106) N1=$(u 201) N2=$(u 202) N3=$(u 203)
q "INSERT INTO mentor_profiles (mentor_id, display_name, is_active, accepting_new_mentees)
   SELECT md5('mentor-' || m)::uuid, 'Loadgen mentor ' || m, false, false FROM generate_series(1, 30) m"
q "INSERT INTO industry_sectors (industry_id, industry_code, name) VALUES ('$(u 900)', 'matcher_test', 'Matcher test')"
q "INSERT INTO mentor_profiles (mentor_id, display_name, max_mentees, industry_id, utc_offset_minutes,
     available_hours_per_week, avg_rating, rating_count) VALUES
   ('$M0', 'M0', 7, '$(u 900)', 60, 10, 4, 10), ('$M5', 'M5', 3, '$(u 900)', 60, 10, 4, 10),
   ('$M6', 'M6', 3, '$(u 900)', 60, 10, 4, 10), ('$N1', 'N1', 2, '$(u 900)', 60, 10, 5, 20),
   ('$N2', 'N2', 2, '$(u 900)', 0, 6, 4.5, 8), ('$N3', 'N3', 1, '$(u 900)', 120, 4, 4, 3)"
q "INSERT INTO user_career_profiles (user_id, target_industry_id, utc_offset_minutes, available_study_hours_week)
   SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, '$(u 900)', 60, 10 FROM generate_series(1, 14) i"
rel() { echo "('$1', '$2', 'active', now() - interval '$3 days')"; }
q "INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, started_at) VALUES
   $(rel $M0 $A 90), $(rel $M0 $B 80), $(rel $M0 $I 70), $(rel $M0 $J 60), $(rel $M0 $K 50), $(rel $M0 $L 40),
   $(rel $M0 $Q 30), $(rel $M5 $C 90), $(rel $M5 $D 80), $(rel $M5 $E 70), $(rel $M6 $G 90), $(rel $M6 $H 80),
   $(rel $M6 $F 10)"
# A declined N1 once (never proposed again); K's last cs-matcher proposal was a day before its event.
q "INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, requested_at, match_reasons) VALUES
   ('$N1', '$A', 'declined', '2026-10-01', '{}'),
   ('$N2', '$K', 'declined', '2026-11-30T10:00:00Z', '{\"proposed_by\": \"cs-matcher\"}')"
# L's last two emitted readiness changes moved its stage; Q's did not.
hist() { echo "('$1', '$2', 50, '$3', 50, 50, 50, 50, 50, 50, 'm', true, '$4')"; }
q "INSERT INTO career_readiness_history (user_id, source_event_id, score, stage, skills, portfolio, interview,
     learning, job_search, mentoring, model_version, emitted, computed_at) VALUES
   $(hist $L $(u 501) learning 2026-11-20), $(hist $L $(u 502) job_searching 2026-12-01),
   $(hist $Q $(u 503) learning 2026-11-20), $(hist $Q $(u 504) learning 2026-12-01)"
[ "$(q "SELECT current_mentee_count FROM mentor_profiles WHERE mentor_id = '$M6'")" -eq 3 ] || fail "setup: M6's count"

env() { # event_type user event_id day payload
  echo "{\"event_type\":\"$1\",\"event_id\":\"$3\",\"occurred_at\":\"2026-12-$4T10:00:00.000Z\",\"user_id\":\"$2\",\"producer\":\"t\",\"payload\":$5}"
}
sess() { # user n rating
  env coaching_session_logged "$1" "$(u $((600 + $2)))" 01 "{\"session_id\":\"$(u $((700 + $2)))\",\"mentor_id\":\"$M0\",\"session_type\":\"general\",\"started_at\":\"2026-11-$((10 + $2))T08:00:00.000Z\",\"duration_minutes\":50,\"learner_rating\":$3,\"mentor_rating\":4,\"goals_discussed\":[\"x\"]}"
}
avail() { # mentor event max current unavailable_until
  env mentor_availability_changed "$(u $((800 + ${1: -1})))" "$2" 01 "{\"mentor_id\":\"$1\",\"accepting_mentees\":true,\"max_mentees\":$3,\"current_mentees\":$4,\"weekly_hours\":5,\"expertise_areas\":[\"x\"],\"unavailable_until\":$5}"
}
{
  sess $A 1 1; sess $A 2 2; sess $A 3 2; sess $J 4 1
  avail $M5 "$(u 611)" 3 3 "\"2027-01-01T00:00:00.000Z\""
  avail $M6 "$(u 612)" 2 3 null
  env mentor_feedback_given $I "$(u 613)" 01 "{\"feedback_id\":\"$(u 713)\",\"mentor_id\":\"$M0\",\"progress_rating\":2,\"engagement_rating\":2,\"recommends_rematch\":true}"
  env mentor_rematch_requested $R "$(u 614)" 01 "{\"request_id\":\"$(u 714)\",\"comment\":\"first mentor please\"}"
} >"$T/mentoring.jsonl"
{
  env learner_profile_updated $B "$(u 621)" 01 '{"target_role":"Data Engineer"}'
  env learner_profile_updated $K "$(u 622)" 01 '{"target_industry":"healthtech"}'
} >"$T/profile.jsonl"
rsc() { env readiness_score_changed "$1" "$2" 01 "{\"score\":50,\"skills_score\":50,\"learning_score\":50,\"portfolio_score\":50,\"interview_score\":50,\"mentoring_score\":50,\"model_version\":\"m\",\"trigger_event_id\":\"$3\",\"trigger_event_type\":\"skill_assessed\"}"; }
{ rsc $L "$(u 631)" "$(u 502)"; rsc $Q "$(u 632)" "$(u 504)"; } >"$T/readiness.jsonl"

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
resp() { env mentor_rematch_responded "$1" "$2" 02 "{\"proposal_id\":\"$3\",\"response\":\"$4\"}"; }
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
