-- tests/sql/09_analytics.sql
--      The three analytics views compute what they claim on a small known data set, refresh
--      concurrently, and expose no learner ids.
BEGIN;
SELECT plan(8);

INSERT INTO industry_sectors (industry_id, industry_code, name) VALUES ('10000000-0000-0000-0000-000000000001', 'tap_data', 'Tap Data');
INSERT INTO content_chunks (content_id, content_type, title, body, status, is_career_critical)
VALUES ('30000000-0000-0000-0000-000000000001', 'exercise', 'SQL joins', 'b', 'published', true);
SELECT tap.make_mentor('40000000-0000-0000-0000-000000000001', 5);
-- Four learners in the same cohort and industry: 1 and 2 complete the content, 3 starts it, 4 does nothing.
INSERT INTO user_career_profiles (user_id, target_industry_id, program_start_date)
SELECT ('aaaaaaaa-0000-0000-0000-00000000000' || n)::uuid, '10000000-0000-0000-0000-000000000001', date '2026-03-10'
  FROM generate_series(1, 4) n;
INSERT INTO user_progress (user_id, content_id, event_id, last_event_at, status, completed_at, best_score, score)
VALUES ('aaaaaaaa-0000-0000-0000-000000000001', '30000000-0000-0000-0000-000000000001', gen_random_uuid(), now(), 'completed', now(), 90, 90),
       ('aaaaaaaa-0000-0000-0000-000000000002', '30000000-0000-0000-0000-000000000001', gen_random_uuid(), now(), 'completed', now(), 70, 70),
       ('aaaaaaaa-0000-0000-0000-000000000003', '30000000-0000-0000-0000-000000000001', gen_random_uuid(), now(), 'in_progress', NULL, NULL, NULL);
-- Learners 1 and 3 are mentored; learner 1 is placed (+50% salary in 60 days), and so is learner 4.
INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, requested_at)
VALUES ('40000000-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'active', now() - interval '90 days'),
       ('40000000-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000003', 'active', now() - interval '90 days');
INSERT INTO career_coaching_sessions (session_id, scheduled_at, user_id, mentor_id, event_id, session_type, status, mentee_rating)
VALUES (gen_random_uuid(), now() - interval '10 days', 'aaaaaaaa-0000-0000-0000-000000000001', '40000000-0000-0000-0000-000000000001',
        gen_random_uuid(), 'career_planning', 'completed', 5),
       (gen_random_uuid(), now() - interval '3 days', 'aaaaaaaa-0000-0000-0000-000000000003', '40000000-0000-0000-0000-000000000001',
        gen_random_uuid(), 'mock_interview', 'completed', 4);
INSERT INTO career_outcomes (user_id, outcome_type, salary_before, salary_after, days_to_offer, outcome_at)
VALUES ('aaaaaaaa-0000-0000-0000-000000000001', 'job_offer_accepted', 40000, 60000, 60, now()),
       ('aaaaaaaa-0000-0000-0000-000000000004', 'job_offer_accepted', 50000, 60000, 120, now());

SELECT lives_ok($$SELECT refresh_analytics()$$, 'refresh_analytics runs');
SELECT lives_ok($$SELECT refresh_analytics()$$, 'and runs again on populated views (CONCURRENTLY)');

SELECT results_eq(
    $$SELECT learners::int, placed_learners::int, placement_rate, avg_salary_increase_pct, median_days_to_offer
        FROM mv_career_transformation_metrics
       WHERE industry_id = '10000000-0000-0000-0000-000000000001' AND cohort_month = date '2026-03-01'$$,
    $$VALUES (4, 2, 0.5000::numeric, 35.00::numeric, 90::double precision)$$,
    'career transformation metrics: 2 of 4 placed, average +35% salary, median 90 days to offer');

SELECT results_eq(
    $$SELECT learners_started::int, learners_completed::int, completion_rate, avg_best_score, completers_placed::int,
             completer_placement_rate, baseline_placement_rate, placement_lift
        FROM mv_content_effectiveness WHERE content_id = '30000000-0000-0000-0000-000000000001'$$,
    $$VALUES (3, 2, 0.6667::numeric, 80.00::numeric, 1, 0.5000::numeric, 0.3333::numeric, 1.500::numeric)$$,
    'content effectiveness: 2 of 3 completed, half the completers placed against a third of all learners');

SELECT results_eq(
    $$SELECT active_mentees::int, total_mentees::int, capacity_utilization, sessions_completed::int, avg_session_rating,
             mentees_placed::int, mentee_placement_rate, avg_mentee_salary_increase_pct
        FROM mv_mentorship_impact WHERE mentor_id = '40000000-0000-0000-0000-000000000001'$$,
    $$VALUES (2, 2, 0.4000::numeric, 2, 4.50::numeric, 1, 0.5000::numeric, 50.00::numeric)$$,
    'mentorship impact: 2 of 5 places used, 2 sessions rated 4.5, 1 of 2 mentees placed at +50%');

SELECT is((SELECT count(*)::int FROM information_schema.columns
            WHERE table_name IN ('mv_career_transformation_metrics', 'mv_content_effectiveness', 'mv_mentorship_impact')
              AND column_name IN ('user_id', 'mentee_id')), 0, 'the views hold no learner ids');

UPDATE career_outcomes SET salary_after = 80000 WHERE user_id = 'aaaaaaaa-0000-0000-0000-000000000001';
SELECT is((SELECT avg_mentee_salary_increase_pct FROM mv_mentorship_impact WHERE mentor_id = '40000000-0000-0000-0000-000000000001'),
          50.00::numeric, 'views change only when refreshed');
SELECT refresh_analytics();
SELECT is((SELECT avg_mentee_salary_increase_pct FROM mv_mentorship_impact WHERE mentor_id = '40000000-0000-0000-0000-000000000001'),
          100.00::numeric, 'after refresh_analytics the view reflects the new outcome');

SELECT * FROM finish();
ROLLBACK;
