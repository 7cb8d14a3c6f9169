#!/usr/bin/env bash
# tests/integration/matcher_scenario.sh
#      The rematch scenario of tests 0097 and 0098 (sourced, not a test): scenario_db fills a
#      fresh database (mentors, learners, relationships, readiness history) through q(),
#      scenario_events writes the targeted events to $T/{mentoring,profile,readiness}.jsonl.
#      Needs q, $T and $DSN from the test.
#
# Learners (u 1..14) and mentors (u 100, 105, 106: current; u 201..203: with room): A low ratings, B goals, C D E (mentor M5 on
# leave), F G H (mentor M6 over capacity by one: F is its newest mentee), I (its mentor recommends
# a rematch), J (one low rating only), K (goals, but proposed to a day ago: cooldown), L (readiness
# stage moved), Q (readiness changed, same stage), R (no mentor, asks for one). N1, N2, N3 have
# 2 + 2 + 1 places.
u() { printf '00000000-0000-4000-8000-%012d' "$1"; }
A=$(u 1) B=$(u 2) C=$(u 3) D=$(u 4) E=$(u 5) F=$(u 6) G=$(u 7) H=$(u 8) I=$(u 9) J=$(u 10) K=$(u 11) L=$(u 12) Q=$(u 13) R=$(u 14)
M0=$(u 100) M5=$(u 105) M6=$(u 106) N1=$(u 201) N2=$(u 202) N3=$(u 203)

scenario_db() {
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
}

evt() { # event_type user event_id day payload
  echo "{\"event_type\":\"$1\",\"event_id\":\"$3\",\"occurred_at\":\"2026-12-$4T10:00:00.000Z\",\"user_id\":\"$2\",\"producer\":\"t\",\"payload\":$5}"
}
sess() { # user n rating
  evt coaching_session_logged "$1" "$(u $((600 + $2)))" 01 "{\"session_id\":\"$(u $((700 + $2)))\",\"mentor_id\":\"$M0\",\"session_type\":\"general\",\"started_at\":\"2026-11-$((10 + $2))T08:00:00.000Z\",\"duration_minutes\":50,\"learner_rating\":$3,\"mentor_rating\":4,\"goals_discussed\":[\"x\"]}"
}
avail() { # mentor event max current unavailable_until
  evt mentor_availability_changed "$(u $((800 + ${1: -1})))" "$2" 01 "{\"mentor_id\":\"$1\",\"accepting_mentees\":true,\"max_mentees\":$3,\"current_mentees\":$4,\"weekly_hours\":5,\"expertise_areas\":[\"x\"],\"unavailable_until\":$5}"
}
rsc() { evt readiness_score_changed "$1" "$2" 01 "{\"score\":50,\"skills_score\":50,\"learning_score\":50,\"portfolio_score\":50,\"interview_score\":50,\"mentoring_score\":50,\"model_version\":\"m\",\"trigger_event_id\":\"$3\",\"trigger_event_type\":\"skill_assessed\"}"; }

scenario_events() {
  {
    sess $A 1 1; sess $A 2 2; sess $A 3 2; sess $J 4 1
    avail $M5 "$(u 611)" 3 3 "\"2027-01-01T00:00:00.000Z\""
    avail $M6 "$(u 612)" 2 3 null
    evt mentor_feedback_given $I "$(u 613)" 01 "{\"feedback_id\":\"$(u 713)\",\"mentor_id\":\"$M0\",\"progress_rating\":2,\"engagement_rating\":2,\"recommends_rematch\":true}"
    evt mentor_rematch_requested $R "$(u 614)" 01 "{\"request_id\":\"$(u 714)\",\"comment\":\"first mentor please\"}"
  } >"$T/mentoring.jsonl"
  {
    evt learner_profile_updated $B "$(u 621)" 01 '{"target_role":"Data Engineer"}'
    evt learner_profile_updated $K "$(u 622)" 01 '{"target_industry":"healthtech"}'
  } >"$T/profile.jsonl"
  { rsc $L "$(u 631)" "$(u 502)"; rsc $Q "$(u 632)" "$(u 504)"; } >"$T/readiness.jsonl"
}
