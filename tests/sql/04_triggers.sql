-- tests/sql/04_triggers.sql
--      Each trigger does what it claims on real rows.
BEGIN;
SELECT plan(28);

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a');
SELECT tap.make_learner('bbbbbbbb-0000-0000-0000-00000000000b');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-00000000000c', 1);

-- updated_at upkeep.
UPDATE user_career_profiles SET target_role = 'qa engineer' WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a';
SELECT ok((SELECT updated_at > created_at FROM user_career_profiles WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'),
          'an UPDATE moves updated_at forward');
UPDATE user_progress SET progress_pct = 80 WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a';
SELECT ok((SELECT updated_at > created_at FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'),
          'updated_at upkeep also runs on a hash partition of user_progress');

-- Content version history.
INSERT INTO content_chunks (content_id, content_type, title, body)
VALUES ('99999999-0000-0000-0000-000000000001', 'explanation', 'Joins', 'v1 body');
SELECT is((SELECT count(*)::int FROM content_versions WHERE content_id = '99999999-0000-0000-0000-000000000001'), 1,
          'a new content chunk records version 1');
SELECT set_config('app.user_id', 'ffffffff-0000-0000-0000-00000000000f', true);
SELECT set_config('app.change_summary', 'clarified outer joins', true);
UPDATE content_chunks SET body = 'v2 body' WHERE content_id = '99999999-0000-0000-0000-000000000001';
SELECT is((SELECT version FROM content_chunks WHERE content_id = '99999999-0000-0000-0000-000000000001'), 2,
          'changing the body bumps the version');
SELECT results_eq($$SELECT version_number, body, changed_by, change_summary FROM content_versions
                     WHERE content_id = '99999999-0000-0000-0000-000000000001' ORDER BY version_number$$,
                  $$VALUES (1, 'v1 body'::text, NULL::uuid, NULL::text),
                           (2, 'v2 body', 'ffffffff-0000-0000-0000-00000000000f'::uuid, 'clarified outer joins')$$,
                  'content_versions keeps every version with who changed it and why');
UPDATE content_chunks SET view_count = view_count + 1 WHERE content_id = '99999999-0000-0000-0000-000000000001';
SELECT is((SELECT count(*)::int FROM content_versions WHERE content_id = '99999999-0000-0000-0000-000000000001'), 2,
          'a counter update is not a new version');
UPDATE content_chunks SET status = 'published' WHERE content_id = '99999999-0000-0000-0000-000000000001';
SELECT isnt((SELECT published_at FROM content_chunks WHERE content_id = '99999999-0000-0000-0000-000000000001'), NULL,
            'publishing stamps published_at');
SELECT set_config('app.user_id', '', true);

-- Mentor capacity (max_mentees = 1).
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status)
VALUES ('eeeeeeee-0000-0000-0000-000000000001', 'cccccccc-0000-0000-0000-00000000000c', 'aaaaaaaa-0000-0000-0000-00000000000a', 'active');
SELECT results_eq($$SELECT current_mentee_count::int, availability_status FROM mentor_profiles
                     WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c'$$,
                  $$VALUES (1, 'full'::text)$$, 'activating a mentorship counts the mentee and marks the mentor full');
SELECT isnt((SELECT started_at FROM mentorship_relationships WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000001'), NULL,
            'activation stamps started_at');
SELECT throws_ok($$INSERT INTO mentorship_relationships (mentor_id, mentee_id, status)
                   VALUES ('cccccccc-0000-0000-0000-00000000000c', 'bbbbbbbb-0000-0000-0000-00000000000b', 'active')$$,
                 'CS003', NULL, 'a mentor at capacity cannot take another active mentee');
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status)
VALUES ('eeeeeeee-0000-0000-0000-000000000002', 'cccccccc-0000-0000-0000-00000000000c', 'bbbbbbbb-0000-0000-0000-00000000000b', 'proposed');
SELECT throws_ok($$UPDATE mentorship_relationships SET status = 'active' WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000002'$$,
                 'CS003', NULL, 'nor can a proposed mentorship be activated');
UPDATE mentorship_relationships SET status = 'ended', end_reason = 'mentee_placed' WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000001';
SELECT results_eq($$SELECT current_mentee_count::int, availability_status FROM mentor_profiles
                     WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c'$$,
                  $$VALUES (0, 'limited'::text)$$, 'ending a mentorship frees the place (one place left: limited)');
SELECT lives_ok($$UPDATE mentorship_relationships SET status = 'active' WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000002'$$,
                'the freed place can be taken');
UPDATE mentor_profiles SET is_active = false WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c';
UPDATE mentor_profiles SET max_mentees = 5 WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c';
SELECT throws_ok($$INSERT INTO mentorship_relationships (mentor_id, mentee_id, status)
                   VALUES ('cccccccc-0000-0000-0000-00000000000c', 'aaaaaaaa-0000-0000-0000-00000000000a', 'active')$$,
                 'CS003', NULL, 'an inactive mentor cannot take mentees');

-- Job application status history.
SELECT is((SELECT array_agg(to_status ORDER BY history_id) FROM job_application_status_history
            WHERE application_id = md5('app-aaaaaaaa-0000-0000-0000-00000000000a')::uuid), ARRAY['applied'],
          'a new application records its initial status');
UPDATE job_applications SET status = 'interviewing', last_event_id = '77777777-0000-0000-0000-000000000001', status_changed_at = now()
 WHERE application_id = md5('app-aaaaaaaa-0000-0000-0000-00000000000a')::uuid;
UPDATE job_applications SET status = 'interviewing', last_event_id = '77777777-0000-0000-0000-000000000001'
 WHERE application_id = md5('app-aaaaaaaa-0000-0000-0000-00000000000a')::uuid;
SELECT results_eq($$SELECT from_status, to_status, event_id FROM job_application_status_history
                     WHERE application_id = md5('app-aaaaaaaa-0000-0000-0000-00000000000a')::uuid ORDER BY history_id$$,
                  $$SELECT * FROM (VALUES (NULL::text, 'applied'::text, (SELECT event_id FROM job_applications
                                                     WHERE application_id = md5('app-aaaaaaaa-0000-0000-0000-00000000000a')::uuid)),
                                           ('applied', 'interviewing', '77777777-0000-0000-0000-000000000001'::uuid)) v$$,
                  'a status change is recorded once with its event; a replayed update adds nothing');

-- Portfolio review roll-up and showcase readiness.
INSERT INTO project_reviews (project_user_id, project_id, reviewer_id, reviewer_type, overall_score, recommends_showcase)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', md5('project-aaaaaaaa-0000-0000-0000-00000000000a')::uuid,
        'cccccccc-0000-0000-0000-00000000000c', 'mentor', 85, true);
SELECT is((SELECT showcase_ready FROM user_portfolio_projects WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'), false,
          'one review is not enough for showcase readiness');
INSERT INTO project_reviews (project_user_id, project_id, reviewer_id, reviewer_type, overall_score)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', md5('project-aaaaaaaa-0000-0000-0000-00000000000a')::uuid,
        'bbbbbbbb-0000-0000-0000-00000000000b', 'peer', 90);
SELECT results_eq($$SELECT review_count, avg_review_score, showcase_ready, showcase_ready_at IS NOT NULL
                      FROM user_portfolio_projects WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'$$,
                  $$VALUES (2, 87.50::numeric(5,2), true, true)$$,
                  'two reviews averaging 87.5 with a mentor recommendation make the project showcase-ready');
INSERT INTO project_reviews (project_user_id, project_id, reviewer_id, reviewer_type, overall_score)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', md5('project-aaaaaaaa-0000-0000-0000-00000000000a')::uuid,
        'dddddddd-0000-0000-0000-00000000000d', 'employer', 40);
SELECT results_eq($$SELECT review_count, avg_review_score, showcase_ready
                      FROM user_portfolio_projects WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'$$,
                  $$VALUES (3, 71.67::numeric(5,2), false)$$, 'a poor review drops the average below 80 and readiness with it');
-- 0051: the roll-up runs once per statement, over every project the statement touched.
INSERT INTO project_reviews (project_user_id, project_id, reviewer_id, reviewer_type, overall_score, recommends_showcase)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', md5('project-aaaaaaaa-0000-0000-0000-00000000000a')::uuid,
        'cccccccc-0000-0000-0000-00000000000c', 'industry_expert', 100, true),
       ('bbbbbbbb-0000-0000-0000-00000000000b', md5('project-bbbbbbbb-0000-0000-0000-00000000000b')::uuid,
        'cccccccc-0000-0000-0000-00000000000c', 'mentor', 95, true),
       ('bbbbbbbb-0000-0000-0000-00000000000b', md5('project-bbbbbbbb-0000-0000-0000-00000000000b')::uuid,
        'aaaaaaaa-0000-0000-0000-00000000000a', 'peer', 85, false);
SELECT results_eq($$SELECT review_count, avg_review_score, showcase_ready FROM user_portfolio_projects
                     WHERE user_id IN ('aaaaaaaa-0000-0000-0000-00000000000a', 'bbbbbbbb-0000-0000-0000-00000000000b') ORDER BY user_id$$,
                  $$VALUES (4, 78.75::numeric(5,2), false), (2, 90.00::numeric(5,2), true)$$,
                  'one statement with reviews of two projects rolls up both, every review counted');
UPDATE project_reviews SET overall_score = 100 WHERE reviewer_type = 'employer'
   AND project_user_id = 'aaaaaaaa-0000-0000-0000-00000000000a';
SELECT results_eq($$SELECT review_count, avg_review_score, showcase_ready FROM user_portfolio_projects
                     WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'$$,
                  $$VALUES (4, 93.75::numeric(5,2), true)$$, 'an updated score rolls up (statement trigger on UPDATE)');
DELETE FROM project_reviews WHERE project_user_id = 'bbbbbbbb-0000-0000-0000-00000000000b' AND reviewer_type = 'mentor';
SELECT results_eq($$SELECT review_count, avg_review_score, showcase_ready, showcase_ready_at IS NULL FROM user_portfolio_projects
                     WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'$$,
                  $$VALUES (1, 85.00::numeric(5,2), false, true)$$, 'a deleted review rolls up and readiness is withdrawn');
-- 0051: the initial status of every application of a multi-row insert, once each.
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title)
VALUES ('66666666-0000-0000-0000-000000000001', now(), 'bbbbbbbb-0000-0000-0000-00000000000b', '66666666-0000-0000-0000-0000000000e1', 'A', 'x'),
       ('66666666-0000-0000-0000-000000000002', now(), 'bbbbbbbb-0000-0000-0000-00000000000b', '66666666-0000-0000-0000-0000000000e2', 'B', 'y');
SELECT results_eq($$SELECT application_id::text, event_id::text, coalesce(from_status, '-'), to_status FROM job_application_status_history
                     WHERE application_id::text LIKE '66666666%' ORDER BY application_id$$,
                  $$VALUES ('66666666-0000-0000-0000-000000000001', '66666666-0000-0000-0000-0000000000e1', '-', 'applied'),
                           ('66666666-0000-0000-0000-000000000002', '66666666-0000-0000-0000-0000000000e2', '-', 'applied')$$,
                  'a multi-row insert records each application''s initial status with its event');

-- Completed coaching sessions count toward the mentorship.
INSERT INTO career_coaching_sessions (session_id, scheduled_at, user_id, mentor_id, relationship_id, event_id, session_type)
VALUES ('55555555-0000-0000-0000-000000000001', now(), 'bbbbbbbb-0000-0000-0000-00000000000b',
        'cccccccc-0000-0000-0000-00000000000c', 'eeeeeeee-0000-0000-0000-000000000002', gen_random_uuid(), 'mock_interview');
UPDATE career_coaching_sessions SET status = 'completed', mentee_rating = 5 WHERE session_id = '55555555-0000-0000-0000-000000000001';
UPDATE career_coaching_sessions SET mentor_notes = 'great' WHERE session_id = '55555555-0000-0000-0000-000000000001';
SELECT is((SELECT sessions_completed FROM mentorship_relationships WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000002'), 1,
          'a completed session counts once toward its mentorship');

-- An accepted offer becomes a milestone and a mentor placement.
INSERT INTO career_outcomes (outcome_id, user_id, outcome_type, job_title, salary_before, salary_after, attributed_mentor_id)
VALUES ('66666666-0000-0000-0000-000000000001', 'bbbbbbbb-0000-0000-0000-00000000000b', 'job_offer_accepted',
        'Data Analyst', 50000, 70000, 'cccccccc-0000-0000-0000-00000000000c');
SELECT is((SELECT milestone_type FROM career_milestones WHERE reference_id = '66666666-0000-0000-0000-000000000001'),
          'offer_received', 'an accepted offer becomes a milestone');
SELECT results_eq($$SELECT successful_placements FROM mentor_profiles WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c'$$,
                  $$VALUES (1)$$, 'and counts as a placement for the attributed mentor');

-- The erasure ledger.
INSERT INTO erased_users (user_id, reason) VALUES ('12121212-0000-0000-0000-000000000012', 'test');
SELECT throws_ok($$INSERT INTO user_career_profiles (user_id) VALUES ('12121212-0000-0000-0000-000000000012') ON CONFLICT DO NOTHING$$,
                 'CS001', NULL, 'an erased learner cannot be recreated, not even as a placeholder');
SELECT throws_ok($$DELETE FROM erased_users$$, 'CS002', NULL, 'the erasure ledger is permanent');

SELECT * FROM finish();
ROLLBACK;
