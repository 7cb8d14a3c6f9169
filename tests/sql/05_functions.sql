-- tests/sql/05_functions.sql
--      The functions on real rows: readiness inputs, mentor match candidates, content
--      recommendation, GDPR erasure, feedback anonymisation, analytics refresh.
BEGIN;
SELECT plan(26);

-- Reference rows: industry I (and J), skills S1, S2, content.
INSERT INTO industry_sectors (industry_id, industry_code, name, demand_index)
VALUES ('10000000-0000-0000-0000-000000000001', 'tap_data', 'Tap Data', 88),
       ('10000000-0000-0000-0000-000000000002', 'tap_games', 'Tap Games', 50);
INSERT INTO skill_taxonomy (skill_id, skill_code, name, category)
VALUES ('20000000-0000-0000-0000-000000000001', 'tap_sql', 'SQL', 'data'),
       ('20000000-0000-0000-0000-000000000002', 'tap_stats', 'Statistics', 'data');
INSERT INTO content_chunks (content_id, content_type, title, body, industry_relevance, skill_ids, is_career_critical, difficulty_level, status)
VALUES ('30000000-0000-0000-0000-000000000001', 'exercise', 'Window functions', 'b', '{10000000-0000-0000-0000-000000000001}',
        '{20000000-0000-0000-0000-000000000002}', true, 1, 'published'),
       ('30000000-0000-0000-0000-000000000002', 'explanation', 'Joins', 'b', '{10000000-0000-0000-0000-000000000001}',
        '{20000000-0000-0000-0000-000000000001}', true, 1, 'published'),
       ('30000000-0000-0000-0000-000000000003', 'explanation', 'Draft', 'b', '{10000000-0000-0000-0000-000000000001}',
        '{20000000-0000-0000-0000-000000000002}', true, 1, 'draft'),
       ('30000000-0000-0000-0000-000000000004', 'example', 'Sprites', 'b', '{10000000-0000-0000-0000-000000000002}',
        '{}', false, 4, 'published');

-- Learner A targets I with skills S1, S2.
INSERT INTO user_career_profiles (user_id, target_industry_id, target_skill_ids, utc_offset_minutes, experience_level, career_stage)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', '10000000-0000-0000-0000-000000000001',
        '{20000000-0000-0000-0000-000000000001,20000000-0000-0000-0000-000000000002}', 60, 'beginner', 'job_searching'),
       ('bbbbbbbb-0000-0000-0000-00000000000b', NULL, '{}', NULL, 'beginner', 'learning');
INSERT INTO user_progress (user_id, content_id, event_id, last_event_at, status, completed_at, best_score, score, time_spent_seconds, last_accessed_at)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', '30000000-0000-0000-0000-000000000002', gen_random_uuid(), now(), 'completed', now(), 90, 90, 600, now()),
       ('aaaaaaaa-0000-0000-0000-00000000000a', '30000000-0000-0000-0000-000000000004', gen_random_uuid(), now(), 'in_progress', NULL, 50, 50, 300, now());
INSERT INTO user_skill_assessments (user_id, event_id, skill_id, assessment_method, proficiency_level, proficiency_score, assessed_at)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), '20000000-0000-0000-0000-000000000001', 'quiz', 'beginner', 40, now() - interval '2 days'),
       ('aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), '20000000-0000-0000-0000-000000000001', 'quiz', 'intermediate', 80, now());
INSERT INTO interview_preparation (user_id, event_id, interview_type, overall_score, readiness_rating, completed_at)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'technical', 70, 'developing', now() - interval '1 day'),
       ('aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'behavioral', 90, 'ready', now());
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title, status)
VALUES (gen_random_uuid(), now(), 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'A', 'Analyst', 'interviewing'),
       (gen_random_uuid(), now(), 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'B', 'Analyst', 'rejected');

SELECT results_eq(
    $$SELECT content_started, content_completed, career_critical_completed, skills_assessed, skills_proficient,
             target_skills_total, target_skills_proficient, avg_skill_proficiency, mock_interviews_completed,
             avg_mock_interview_score, latest_mock_readiness, applications_submitted, applications_interviewing,
             offers_received, target_industry_demand_index
        FROM career_readiness_inputs('aaaaaaaa-0000-0000-0000-00000000000a')$$,
    $$VALUES (2, 1, 1, 1, 1, 2, 1, 80.00::numeric, 2, 80.00::numeric, 'ready'::text, 2, 1, 0, 88.00::numeric)$$,
    'career_readiness_inputs gathers progress, the latest score per skill, mock interviews and applications');
SELECT is((SELECT count(*)::int FROM career_readiness_inputs('99999999-0000-0000-0000-000000000099')), 0,
          'no row for an unknown learner');
SELECT results_eq($$SELECT user_id, career_stage, target_industry_id, target_industry_demand_index,
                           available_study_hours_week, days_in_program, content_started, content_completed,
                           career_critical_completed, avg_content_score, study_seconds_30d, skills_assessed,
                           skills_proficient, target_skills_total, target_skills_proficient, avg_skill_proficiency,
                           projects_total, projects_completed, projects_showcase_ready, avg_project_review_score,
                           mock_interviews_completed, avg_mock_interview_score, latest_mock_readiness,
                           coaching_sessions_completed, avg_session_rating, has_active_mentor,
                           applications_submitted, applications_interviewing, offers_received, last_activity_at
                      FROM career_readiness_inputs_batch(ARRAY['aaaaaaaa-0000-0000-0000-00000000000a',
                                                                  '99999999-0000-0000-0000-000000000099',
                                                                  'bbbbbbbb-0000-0000-0000-00000000000b']::uuid[], now())
                     ORDER BY user_id$$,
                  $$SELECT * FROM career_readiness_inputs('aaaaaaaa-0000-0000-0000-00000000000a'::uuid)
                    UNION ALL SELECT * FROM career_readiness_inputs('bbbbbbbb-0000-0000-0000-00000000000b'::uuid)$$,
                  'the batch form returns one row per known learner, equal to the single-learner form');
SELECT results_eq($$SELECT content_started, skills_assessed, projects_total, mock_interviews_completed, avg_mock_interview_score,
                           coaching_sessions_completed, has_active_mentor, applications_submitted
                      FROM career_readiness_inputs('bbbbbbbb-0000-0000-0000-00000000000b'::uuid)$$,
                  $$VALUES (0, 0, 0, 0, NULL::numeric, 0, false, 0)$$,
                  'a learner without activity gets zero counts and NULL averages');

-- Mentors: M1 full, M2 same industry, M3 other industry with more overlap, M4 inactive, M5 already matched.
INSERT INTO mentor_profiles (mentor_id, display_name, industry_id, expertise_skill_ids, max_mentees, current_mentee_count, utc_offset_minutes, avg_rating, is_active)
VALUES ('40000000-0000-0000-0000-000000000001', 'M1', '10000000-0000-0000-0000-000000000001', '{20000000-0000-0000-0000-000000000001,20000000-0000-0000-0000-000000000002}', 1, 0, 60, 5.0, true),
       ('40000000-0000-0000-0000-000000000002', 'M2', '10000000-0000-0000-0000-000000000001', '{20000000-0000-0000-0000-000000000001}', 3, 0, -300, 4.0, true),
       ('40000000-0000-0000-0000-000000000003', 'M3', '10000000-0000-0000-0000-000000000002', '{20000000-0000-0000-0000-000000000001,20000000-0000-0000-0000-000000000002}', 3, 0, 0, 4.5, true),
       ('40000000-0000-0000-0000-000000000004', 'M4', '10000000-0000-0000-0000-000000000001', '{20000000-0000-0000-0000-000000000001}', 3, 0, 0, 5.0, false),
       ('40000000-0000-0000-0000-000000000005', 'M5', '10000000-0000-0000-0000-000000000001', '{20000000-0000-0000-0000-000000000001}', 3, 0, 0, 5.0, true);
INSERT INTO mentorship_relationships (mentor_id, mentee_id, status)
VALUES ('40000000-0000-0000-0000-000000000001', 'bbbbbbbb-0000-0000-0000-00000000000b', 'active'),
       ('40000000-0000-0000-0000-000000000005', 'aaaaaaaa-0000-0000-0000-00000000000a', 'proposed');
SELECT results_eq(
    $$SELECT mentor_id, industry_match, expertise_overlap, utc_offset_diff_minutes, remaining_capacity
        FROM mentor_match_candidates('aaaaaaaa-0000-0000-0000-00000000000a', 10)
       WHERE mentor_id::text LIKE '40000000%'$$,
    $$VALUES ('40000000-0000-0000-0000-000000000002'::uuid, true, 1, 360, 3),
             ('40000000-0000-0000-0000-000000000003'::uuid, false, 2, 60, 3)$$,
    'mentor_match_candidates: only active mentors with room and no open match, industry first, with raw features');
SELECT is((SELECT count(*)::int FROM mentor_match_candidates('aaaaaaaa-0000-0000-0000-00000000000a', 1)), 1, 'p_limit caps the list');
-- 384 equal components: a text literal both vector(384) and real[] accept.
SELECT CASE WHEN cs_has_vector() THEN '[' || array_to_string(array_fill(1, ARRAY[384]), ',') || ']'
            ELSE array_fill(1, ARRAY[384])::text END AS ones \gset
UPDATE user_career_profiles SET goal_embedding = :'ones' WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a';
UPDATE mentor_profiles SET expertise_embedding = :'ones' WHERE mentor_id = '40000000-0000-0000-0000-000000000002';
SELECT is((SELECT array_agg(round(expertise_similarity::numeric, 3) ORDER BY mentor_id)::text
             FROM mentor_match_candidates('aaaaaaaa-0000-0000-0000-00000000000a', 10) WHERE mentor_id::text LIKE '40000000%'),
          '{1.000,NULL}', 'expertise_similarity compares mentor and goal embeddings (NULL when one is missing)');

-- Content recommendation.
SELECT results_eq(
    $$SELECT content_id, reasons FROM recommend_content('aaaaaaaa-0000-0000-0000-00000000000a', 100000)
       WHERE content_id::text LIKE '30000000%'$$,
    $$VALUES ('30000000-0000-0000-0000-000000000001'::uuid, ARRAY['target_industry', 'target_skill_gap', 'career_critical']),
             ('30000000-0000-0000-0000-000000000004'::uuid, '{}'::text[])$$,
    'recommend_content ranks the unproven target skill first and skips completed and unpublished content');
SELECT is(tap.run_as('cs_app_learner', 'bbbbbbbb-0000-0000-0000-00000000000b',
                     $$SELECT * FROM recommend_content('aaaaaaaa-0000-0000-0000-00000000000a', 10)$$), 0::bigint,
          'a learner cannot get another learner''s recommendations (row-level security applies)');
SELECT cmp_ok(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                         $$SELECT * FROM recommend_content('aaaaaaaa-0000-0000-0000-00000000000a', 10)$$), '>=', 2::bigint,
          'a learner gets their own recommendations');

-- Employer feedback anonymisation.
INSERT INTO employer_feedback (feedback_id, user_id, employer_name, employer_contact_name, employer_contact_email, feedback_period,
                               overall_performance_rating, comments, submitted_at)
VALUES ('50000000-0000-0000-0000-000000000001', 'bbbbbbbb-0000-0000-0000-00000000000b', 'Acme', 'Pat Boss', 'pat@acme.example',
        '90_day', 4, 'Great hire', now() - interval '3 years'),
       ('50000000-0000-0000-0000-000000000002', 'bbbbbbbb-0000-0000-0000-00000000000b', 'Acme', 'Pat Boss', 'pat@acme.example',
        '30_day', 5, 'Fast learner', now());
SELECT throws_ok($$SELECT anonymize_employer_feedback()$$, '22023', NULL, 'anonymize_employer_feedback needs a user or a cut-off');
SELECT is(anonymize_employer_feedback(NULL, now() - interval '2 years'), 1::bigint, 'feedback past retention is anonymised');
SELECT results_eq($$SELECT user_id, employer_contact_email, comments, overall_performance_rating, anonymized_at IS NOT NULL
                      FROM employer_feedback WHERE feedback_id = '50000000-0000-0000-0000-000000000001'$$,
                  $$VALUES (NULL::uuid, NULL::text, NULL::text, 4::smallint, true)$$,
                  'identifying columns are cleared, ratings kept');

-- GDPR erasure of learner A.
INSERT INTO employer_feedback (user_id, employer_contact_name, feedback_period, overall_performance_rating, comments)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', 'Sam Lead', '30_day', 3, 'ok');
INSERT INTO user_portfolio_projects (user_id, project_id, event_id, title)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), gen_random_uuid(), 'Dashboard');
UPDATE mentorship_relationships SET status = 'active' WHERE mentee_id = 'aaaaaaaa-0000-0000-0000-00000000000a';
SELECT tap.audit_row('aaaaaaaa-0000-0000-0000-00000000000a', now(), 1);
INSERT INTO dead_letters (consumer_group, worker, topic, kafka_partition, kafka_offset, dlq_topic, error_class, reason, attempt, msg_key, payload)
VALUES ('cs-progress', 'progress', 'cs.learning', 0, 1, 'cs.learning.dlq', 'validation', 'bad rating', 1,
        convert_to('aaaaaaaa-0000-0000-0000-00000000000a', 'UTF8'), '\x00'),
       ('cs-progress', 'progress', 'cs.learning', 0, 2, 'cs.learning.dlq', 'validation', 'bad rating', 1,
        convert_to('bbbbbbbb-0000-0000-0000-00000000000b', 'UTF8'), '\x00');
SELECT is(gdpr_erase_user('aaaaaaaa-0000-0000-0000-00000000000a', '60000000-0000-0000-0000-000000000001', 'user request')
              - 'user_id',
          '{"newly_erased": true, "profiles_deleted": 1, "feedback_anonymized": 1, "audit_rows_redacted": 1,
            "dead_letters_deleted": 1}'::jsonb,
          'gdpr_erase_user reports what it did');
SELECT is((SELECT array_agg(convert_from(msg_key, 'UTF8')) FROM dead_letters), ARRAY['bbbbbbbb-0000-0000-0000-00000000000b'],
          'the learner''s dead letters are gone, other learners'' stay');
SELECT is((SELECT count(*)::int FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM job_applications WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM job_application_status_history WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM user_skill_assessments WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM interview_preparation WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM user_portfolio_projects WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM mentorship_relationships WHERE mentee_id = 'aaaaaaaa-0000-0000-0000-00000000000a')
        + (SELECT count(*)::int FROM user_career_profiles WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'), 0,
          'every learner-owned row of A is gone');
SELECT is((SELECT current_mentee_count::int FROM mentor_profiles WHERE mentor_id = '40000000-0000-0000-0000-000000000005'), 0,
          'the mentor''s place is freed');
SELECT is((SELECT count(*)::int FROM employer_feedback WHERE anonymized_at IS NOT NULL AND comments IS NULL), 2,
          'A''s employer feedback stays, anonymised');
SELECT is((SELECT payload::text FROM system_logs WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'), cs_audit_redaction_marker()::text,
          'A''s audit payload is redacted');
SELECT is((SELECT request_event_id FROM erased_users WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'),
          '60000000-0000-0000-0000-000000000001'::uuid, 'the erasure ledger records the request');
SELECT is(gdpr_erase_user('aaaaaaaa-0000-0000-0000-00000000000a') ->> 'newly_erased', 'false', 'erasing again is a no-op');
SELECT ok(is_erased('aaaaaaaa-0000-0000-0000-00000000000a') AND NOT is_erased('bbbbbbbb-0000-0000-0000-00000000000b'),
          'is_erased tells erased learners from others');
SELECT is(tap.run_as('cs_worker_progress', NULL, $$SELECT 1 WHERE is_erased('aaaaaaaa-0000-0000-0000-00000000000a')$$), 1::bigint,
          'workers may consult the ledger');
SELECT throws_ok($$INSERT INTO user_career_profiles (user_id) VALUES ('aaaaaaaa-0000-0000-0000-00000000000a') ON CONFLICT DO NOTHING$$,
                 'CS001', NULL, 'a replayed event cannot bring A back');

-- Analytics refresh.
INSERT INTO career_outcomes (user_id, outcome_type, salary_before, salary_after, days_to_offer)
VALUES ('bbbbbbbb-0000-0000-0000-00000000000b', 'job_offer_accepted', 50000, 65000, 90);
SELECT lives_ok($$SELECT refresh_analytics()$$, 'refresh_analytics refreshes the three views concurrently');
SELECT results_eq($$SELECT placed_learners::int, avg_salary_increase_pct FROM mv_career_transformation_metrics
                     WHERE industry_name = 'Undecided' AND learners = 1$$,
                  $$VALUES (1, 30.00::numeric)$$, 'the metrics view counts the placement and its salary increase');

SELECT * FROM finish();
ROLLBACK;
