-- tests/sql/18_readiness_activity_rollups.sql
--      Migration 0079: readiness_activity_rollups (completed coaching sessions and mock interviews,
--      projects not abandoned, per learner) equals a recount from the raw rows after inserts, cs-progress's upsert,
--      updates, deletes, erasure and TRUNCATE; career_readiness_inputs_batch's coaching and mock
--      inputs and project inputs equal those computed from the rows.
BEGIN;
SELECT plan(9);

CREATE TEMP VIEW tap_activity_expected AS
SELECT u.user_id, coalesce(s.n, 0) AS coach_n, coalesce(s.total, 0) AS coach_rating_sum, coalesce(s.rated, 0) AS coach_rating_n,
       coalesce(m.n, 0) AS mock_n, coalesce(m.total, 0) AS mock_score_sum, coalesce(m.rated, 0) AS mock_score_n,
       coalesce(j.n, 0) AS proj_n, coalesce(j.done, 0) AS proj_completed, coalesce(j.ready, 0) AS proj_showcase,
       coalesce(j.total, 0) AS proj_review_sum, coalesce(j.rated, 0) AS proj_review_n
  FROM (SELECT user_id FROM career_coaching_sessions UNION SELECT user_id FROM interview_preparation
        UNION SELECT user_id FROM user_portfolio_projects) u
  LEFT JOIN (SELECT user_id, count(*)::int AS n, sum(mentee_rating)::bigint AS total, count(mentee_rating)::int AS rated
               FROM career_coaching_sessions WHERE status = 'completed' GROUP BY user_id) s ON s.user_id = u.user_id
  LEFT JOIN (SELECT user_id, count(*)::int AS n, sum(overall_score) AS total, count(overall_score)::int AS rated
               FROM interview_preparation WHERE status = 'completed' GROUP BY user_id) m ON m.user_id = u.user_id
  LEFT JOIN (SELECT user_id, count(*)::int AS n, count(*) FILTER (WHERE status IN ('completed', 'showcased'))::int AS done,
                    count(*) FILTER (WHERE showcase_ready)::int AS ready, sum(avg_review_score) AS total,
                    count(avg_review_score)::int AS rated
               FROM user_portfolio_projects WHERE status <> 'abandoned' GROUP BY user_id) j ON j.user_id = u.user_id;
-- Learners with nothing completed may keep a row of zeros.
CREATE TEMP VIEW tap_activity_actual AS
SELECT user_id, coach_n, coach_rating_sum, coach_rating_n, mock_n, mock_score_sum, mock_score_n,
       proj_n, proj_completed, proj_showcase, proj_review_sum, proj_review_n
  FROM readiness_activity_rollups
 WHERE coach_n <> 0 OR coach_rating_sum <> 0 OR coach_rating_n <> 0 OR mock_n <> 0 OR mock_score_sum <> 0 OR mock_score_n <> 0
    OR proj_n <> 0 OR proj_completed <> 0 OR proj_showcase <> 0 OR proj_review_sum <> 0 OR proj_review_n <> 0;
CREATE TEMP VIEW tap_activity_expected_nz AS
SELECT * FROM tap_activity_expected WHERE coach_n <> 0 OR mock_n <> 0 OR proj_n <> 0;

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000000f1');
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000000f2');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-0000000000f1', 3);

INSERT INTO career_coaching_sessions (session_id, scheduled_at, user_id, mentor_id, event_id, session_type, status, mentee_rating)
VALUES ('33333333-0000-0000-0000-0000000000f1', '2026-01-05 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000f1',
        'cccccccc-0000-0000-0000-0000000000f1', gen_random_uuid(), 'check_in', 'completed', 4),
       ('33333333-0000-0000-0000-0000000000f2', '2026-02-06 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000f1',
        'cccccccc-0000-0000-0000-0000000000f1', gen_random_uuid(), 'check_in', 'completed', NULL),
       ('33333333-0000-0000-0000-0000000000f3', '2026-03-07 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000f1',
        'cccccccc-0000-0000-0000-0000000000f1', gen_random_uuid(), 'check_in', 'scheduled', NULL),
       ('33333333-0000-0000-0000-0000000000f4', '2026-01-08 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000f2',
        'cccccccc-0000-0000-0000-0000000000f1', gen_random_uuid(), 'check_in', 'completed', 5);
INSERT INTO interview_preparation (prep_id, user_id, event_id, interview_type, status, completed_at, overall_score, readiness_rating)
VALUES ('44444444-0000-0000-0000-0000000000f1', 'aaaaaaaa-0000-0000-0000-0000000000f1', gen_random_uuid(), 'behavioral',
        'completed', '2026-01-10 10:00Z', 61.25, 'developing'),
       ('44444444-0000-0000-0000-0000000000f2', 'aaaaaaaa-0000-0000-0000-0000000000f1', gen_random_uuid(), 'technical',
        'completed', '2026-02-10 10:00Z', 72.50, 'ready'),
       ('44444444-0000-0000-0000-0000000000f3', 'aaaaaaaa-0000-0000-0000-0000000000f2', gen_random_uuid(), 'technical',
        'planned', NULL, NULL, NULL);
INSERT INTO user_portfolio_projects (user_id, project_id, event_id, title, status, showcase_ready, showcase_ready_at, avg_review_score)
VALUES ('aaaaaaaa-0000-0000-0000-0000000000f1', '55555555-0000-0000-0000-0000000000f1', gen_random_uuid(), 'One', 'completed', true, now(), 88.50),
       ('aaaaaaaa-0000-0000-0000-0000000000f1', '55555555-0000-0000-0000-0000000000f2', gen_random_uuid(), 'Two', 'in_progress', false, NULL, NULL),
       ('aaaaaaaa-0000-0000-0000-0000000000f1', '55555555-0000-0000-0000-0000000000f3', gen_random_uuid(), 'Three', 'abandoned', false, NULL, 40),
       ('aaaaaaaa-0000-0000-0000-0000000000f2', '55555555-0000-0000-0000-0000000000f4', gen_random_uuid(), 'Four', 'showcased', true, now(), 91.25);
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'inserted rows: the roll-up is the recount');

-- cs-progress's session upsert: one session completed and rated, a new one.
INSERT INTO career_coaching_sessions AS t (session_id, scheduled_at, user_id, mentor_id, event_id, session_type, status, mentee_rating)
VALUES ('33333333-0000-0000-0000-0000000000f3', '2026-03-07 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000f1',
        'cccccccc-0000-0000-0000-0000000000f1', gen_random_uuid(), 'check_in', 'completed', 2),
       ('33333333-0000-0000-0000-0000000000f5', '2026-03-09 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000f2',
        'cccccccc-0000-0000-0000-0000000000f1', gen_random_uuid(), 'check_in', 'completed', 3)
ON CONFLICT (session_id, scheduled_at) DO UPDATE SET status = EXCLUDED.status, mentee_rating = EXCLUDED.mentee_rating;
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'upsert (insert and update): the recount');

UPDATE career_coaching_sessions SET status = 'cancelled' WHERE session_id = '33333333-0000-0000-0000-0000000000f1';
UPDATE interview_preparation SET status = 'completed', completed_at = '2026-03-01 10:00Z', overall_score = 80, readiness_rating = 'strong'
 WHERE prep_id = '44444444-0000-0000-0000-0000000000f3';
UPDATE interview_preparation SET overall_score = NULL WHERE prep_id = '44444444-0000-0000-0000-0000000000f1';
UPDATE user_portfolio_projects SET status = 'abandoned' WHERE project_id = '55555555-0000-0000-0000-0000000000f1';
UPDATE user_portfolio_projects SET status = 'completed', showcase_ready = true, showcase_ready_at = now(), avg_review_score = 77
 WHERE project_id IN ('55555555-0000-0000-0000-0000000000f2', '55555555-0000-0000-0000-0000000000f3');
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'updates (cancelled, completed, a score cleared): the recount');

CREATE TEMP VIEW tap_activity_read_expected AS
SELECT u.user_id,
       (SELECT count(*)::int FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed') AS mocks,
       (SELECT round(avg(ip.overall_score), 2) FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed') AS avg_mock,
       (SELECT ip.readiness_rating FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed'
         ORDER BY ip.completed_at DESC LIMIT 1) AS latest,
       (SELECT count(*)::int FROM career_coaching_sessions s WHERE s.user_id = u.user_id AND s.status = 'completed') AS sessions,
       (SELECT round(avg(s.mentee_rating), 2) FROM career_coaching_sessions s WHERE s.user_id = u.user_id AND s.status = 'completed') AS rating,
       (SELECT count(*)::int FROM user_portfolio_projects j WHERE j.user_id = u.user_id AND j.status <> 'abandoned') AS projects,
       (SELECT count(*)::int FROM user_portfolio_projects j WHERE j.user_id = u.user_id AND j.status IN ('completed', 'showcased')) AS done,
       (SELECT count(*)::int FROM user_portfolio_projects j WHERE j.user_id = u.user_id AND j.status <> 'abandoned' AND j.showcase_ready) AS ready,
       (SELECT round(avg(j.avg_review_score), 2) FROM user_portfolio_projects j WHERE j.user_id = u.user_id AND j.status <> 'abandoned') AS review
  FROM (VALUES ('aaaaaaaa-0000-0000-0000-0000000000f1'::uuid), ('aaaaaaaa-0000-0000-0000-0000000000f2')) u(user_id);
SELECT set_eq($$SELECT user_id, mock_interviews_completed, avg_mock_interview_score, latest_mock_readiness,
                       coaching_sessions_completed, avg_session_rating, projects_total, projects_completed,
                       projects_showcase_ready, avg_project_review_score
                  FROM career_readiness_inputs_batch(ARRAY['aaaaaaaa-0000-0000-0000-0000000000f1',
                                                           'aaaaaaaa-0000-0000-0000-0000000000f2']::uuid[])$$,
              'SELECT * FROM tap_activity_read_expected', 'the read: coaching, mock and project inputs as counted from the rows');
SELECT results_eq($$SELECT latest, rating FROM tap_activity_read_expected ORDER BY user_id$$,
                  $$VALUES ('ready'::text, 2.00::numeric), ('strong', 4.00)$$, '... which are not trivial');

DELETE FROM interview_preparation WHERE prep_id = '44444444-0000-0000-0000-0000000000f2';
DELETE FROM career_coaching_sessions WHERE session_id = '33333333-0000-0000-0000-0000000000f4';
DELETE FROM user_portfolio_projects WHERE project_id = '55555555-0000-0000-0000-0000000000f4';
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'deleted rows: the recount');
SELECT gdpr_erase_user('aaaaaaaa-0000-0000-0000-0000000000f1');
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'erasure: the recount');
SELECT is_empty($$SELECT 1 FROM tap_activity_actual WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000f1'$$,
                '... nothing left of the erased learner');

TRUNCATE interview_preparation, career_coaching_sessions, user_portfolio_projects CASCADE;
SELECT is((SELECT count(*)::int FROM tap_activity_actual), 0, 'TRUNCATE: nothing left');

SELECT * FROM finish();
ROLLBACK;
