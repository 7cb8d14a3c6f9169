-- tests/sql/28_readiness_history_cascade.sql
--      Migration 0096: career_readiness_history has no foreign key to user_career_profiles; the
--      history of a learner whose profile is deleted (gdpr_erase_user, a plain DELETE) or
--      truncated goes with it (career_readiness_history_erase), another learner's stays.
BEGIN;
SELECT plan(8);

INSERT INTO user_career_profiles (user_id) VALUES
    ('99999999-0000-0000-0000-0000000000a1'), ('99999999-0000-0000-0000-0000000000a2'),
    ('99999999-0000-0000-0000-0000000000a3');
INSERT INTO career_readiness_history (user_id, source_event_id, score, stage, skills, portfolio, interview,
                                      learning, job_search, mentoring, model_version)
SELECT u::uuid, e::uuid, 10, 'learning', 1, 2, 3, 4, 5, 6, 'm'
  FROM (VALUES ('99999999-0000-0000-0000-0000000000a1'), ('99999999-0000-0000-0000-0000000000a2'),
               ('99999999-0000-0000-0000-0000000000a3')) AS l(u),
       (VALUES ('99999999-0000-0000-0000-0000000000e1'), ('99999999-0000-0000-0000-0000000000e2')) AS v(e);

SELECT is((SELECT count(*)::int FROM pg_constraint
            WHERE conrelid = 'career_readiness_history'::regclass AND contype = 'f'), 0,
          'career_readiness_history has no foreign key (0096)');
SELECT is((SELECT count(*)::int FROM pg_trigger
            WHERE tgrelid = 'user_career_profiles'::regclass
              AND tgfoid = 'career_readiness_history_erase()'::regprocedure), 2,
          'the delete and truncate triggers on user_career_profiles');

-- A plain delete of one profile.
DELETE FROM user_career_profiles WHERE user_id = '99999999-0000-0000-0000-0000000000a1';
SELECT is((SELECT count(*)::int FROM career_readiness_history WHERE user_id = '99999999-0000-0000-0000-0000000000a1'),
          0, 'a deleted profile''s history is deleted');
SELECT is((SELECT count(*)::int FROM career_readiness_history
            WHERE user_id IN ('99999999-0000-0000-0000-0000000000a2', '99999999-0000-0000-0000-0000000000a3')),
          4, 'the other learners'' history stays');

-- Erasure.
SELECT gdpr_erase_user('99999999-0000-0000-0000-0000000000a2', '99999999-0000-0000-0000-0000000000e9', 'user_request');
SELECT is((SELECT count(*)::int FROM career_readiness_history WHERE user_id = '99999999-0000-0000-0000-0000000000a2'),
          0, 'an erased learner''s history is deleted');
SELECT is((SELECT count(*)::int FROM career_readiness_history WHERE user_id = '99999999-0000-0000-0000-0000000000a3'),
          2, 'a learner not erased keeps its history');

-- A delete that matches no profile deletes nothing.
DELETE FROM user_career_profiles WHERE user_id = '99999999-0000-0000-0000-0000000000ff';
SELECT is((SELECT count(*)::int FROM career_readiness_history WHERE user_id = '99999999-0000-0000-0000-0000000000a3'),
          2, 'a delete of no profile leaves the history');

-- TRUNCATE (CASCADE: career_transformation_progress and others reference the profiles).
TRUNCATE user_career_profiles CASCADE;
SELECT is((SELECT count(*)::int FROM career_readiness_history), 0, 'TRUNCATE of the profiles empties the history');

SELECT * FROM finish();
ROLLBACK;
