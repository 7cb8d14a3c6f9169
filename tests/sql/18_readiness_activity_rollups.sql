-- tests/sql/18_readiness_activity_rollups.sql
--      Migration 0079: readiness_activity_rollups (completed coaching sessions and mock interviews
--      per learner) equals a recount from the raw rows after inserts, cs-progress's upsert,
--      updates, deletes, erasure and TRUNCATE; career_readiness_inputs_batch's coaching and mock
--      inputs equal those computed from the rows.
BEGIN;
SELECT plan(9);

CREATE TEMP VIEW tap_activity_expected AS
SELECT u.user_id, coalesce(s.n, 0) AS coach_n, coalesce(s.total, 0) AS coach_rating_sum, coalesce(s.rated, 0) AS coach_rating_n,
       coalesce(m.n, 0) AS mock_n, coalesce(m.total, 0) AS mock_score_sum, coalesce(m.rated, 0) AS mock_score_n
  FROM (SELECT user_id FROM career_coaching_sessions UNION SELECT user_id FROM interview_preparation) u
  LEFT JOIN (SELECT user_id, count(*)::int AS n, sum(mentee_rating)::bigint AS total, count(mentee_rating)::int AS rated
               FROM career_coaching_sessions WHERE status = 'completed' GROUP BY user_id) s ON s.user_id = u.user_id
  LEFT JOIN (SELECT user_id, count(*)::int AS n, sum(overall_score) AS total, count(overall_score)::int AS rated
               FROM interview_preparation WHERE status = 'completed' GROUP BY user_id) m ON m.user_id = u.user_id;
-- Learners with nothing completed may keep a row of zeros.
CREATE TEMP VIEW tap_activity_actual AS
SELECT user_id, coach_n, coach_rating_sum, coach_rating_n, mock_n, mock_score_sum, mock_score_n
  FROM readiness_activity_rollups
 WHERE coach_n <> 0 OR coach_rating_sum <> 0 OR coach_rating_n <> 0 OR mock_n <> 0 OR mock_score_sum <> 0 OR mock_score_n <> 0;
CREATE TEMP VIEW tap_activity_expected_nz AS
SELECT * FROM tap_activity_expected WHERE coach_n <> 0 OR mock_n <> 0;

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
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'updates (cancelled, completed, a score cleared): the recount');

CREATE TEMP VIEW tap_activity_read_expected AS
SELECT u.user_id,
       (SELECT count(*)::int FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed') AS mocks,
       (SELECT round(avg(ip.overall_score), 2) FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed') AS avg_mock,
       (SELECT ip.readiness_rating FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed'
         ORDER BY ip.completed_at DESC LIMIT 1) AS latest,
       (SELECT count(*)::int FROM career_coaching_sessions s WHERE s.user_id = u.user_id AND s.status = 'completed') AS sessions,
       (SELECT round(avg(s.mentee_rating), 2) FROM career_coaching_sessions s WHERE s.user_id = u.user_id AND s.status = 'completed') AS rating
  FROM (VALUES ('aaaaaaaa-0000-0000-0000-0000000000f1'::uuid), ('aaaaaaaa-0000-0000-0000-0000000000f2')) u(user_id);
SELECT set_eq($$SELECT user_id, mock_interviews_completed, avg_mock_interview_score, latest_mock_readiness,
                       coaching_sessions_completed, avg_session_rating
                  FROM career_readiness_inputs_batch(ARRAY['aaaaaaaa-0000-0000-0000-0000000000f1',
                                                           'aaaaaaaa-0000-0000-0000-0000000000f2']::uuid[])$$,
              'SELECT * FROM tap_activity_read_expected', 'the read: coaching and mock inputs as counted from the rows');
SELECT results_eq($$SELECT latest, rating FROM tap_activity_read_expected ORDER BY user_id$$,
                  $$VALUES ('ready'::text, 2.00::numeric), ('strong', 4.00)$$, '... which are not trivial');

DELETE FROM interview_preparation WHERE prep_id = '44444444-0000-0000-0000-0000000000f2';
DELETE FROM career_coaching_sessions WHERE session_id = '33333333-0000-0000-0000-0000000000f4';
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'deleted rows: the recount');
SELECT gdpr_erase_user('aaaaaaaa-0000-0000-0000-0000000000f1');
SELECT set_eq('SELECT * FROM tap_activity_actual', 'SELECT * FROM tap_activity_expected_nz', 'erasure: the recount');
SELECT is_empty($$SELECT 1 FROM tap_activity_actual WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000f1'$$,
                '... nothing left of the erased learner');

TRUNCATE interview_preparation, career_coaching_sessions;
SELECT is((SELECT count(*)::int FROM tap_activity_actual), 0, 'TRUNCATE: nothing left');

SELECT * FROM finish();
ROLLBACK;
