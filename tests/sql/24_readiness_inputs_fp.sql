-- tests/sql/24_readiness_inputs_fp.sql
--      Migration 0093 and career_readiness_inputs_fp: the read gives each learner the fingerprint
--      of the row versions its inputs come from, and with a model version it leaves out exactly
--      the learners whose stored score was computed from inputs with that fingerprint by that
--      model. A new version of the profile or of any roll-up row, a change of the reference data,
--      another model version or a score stored without a fingerprint: the learner is read again.
-- Each change runs in a subtransaction: a row version's xmin is the (sub)transaction that wrote
-- it, and every version this file's own transaction wrote outside one would share one xmin.
BEGIN;
SELECT plan(16);

INSERT INTO user_career_profiles (user_id, available_study_hours_week, last_active_at)
VALUES ('99999999-0000-0000-0000-0000000000a1', 5, '2026-11-02 10:00+00'),
       ('99999999-0000-0000-0000-0000000000a2', 5, '2026-11-02 10:00+00'),
       ('99999999-0000-0000-0000-0000000000a5', 5, NULL);

CREATE TEMP TABLE tap_ids AS
SELECT ARRAY['99999999-0000-0000-0000-0000000000a1', '99999999-0000-0000-0000-0000000000a2',
             '99999999-0000-0000-0000-0000000000a3']::uuid[] AS a;
-- The learners the worker's read returns, for model m.
CREATE FUNCTION pg_temp.read(m text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(right(user_id::text, 2), ',' ORDER BY user_id), '')
      FROM career_readiness_inputs_fp((SELECT a FROM tap_ids), NULL, m) $$;
CREATE FUNCTION pg_temp.fp(u text) RETURNS text LANGUAGE sql AS $$
    SELECT inputs_fp FROM career_readiness_inputs_fp(ARRAY[u::uuid]) $$;
-- Stores what cs-readiness stores with a score: the fingerprint it read and its model (in
-- career_readiness_scores since 0099).
CREATE FUNCTION pg_temp.store(u text, m text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO career_readiness_scores AS t (user_id, score, skills, portfolio, interview, learning, job_search,
                                              mentoring, stage, computed_at, model_version, inputs_fp)
    VALUES (u::uuid, 10, 1, 2, 3, 4, 5, 6, 'learning', now(), m, pg_temp.fp(u))
    ON CONFLICT (user_id) DO UPDATE SET model_version = EXCLUDED.model_version,
                                        inputs_fp = EXCLUDED.inputs_fp $$;

SELECT is(pg_temp.read('m1'), 'a1,a2', 'nothing stored: every learner with a profile is read');
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');
SELECT is(pg_temp.read('m1'), 'a2', 'a score of these inputs by this model is stored: the learner is left out');
SELECT is(pg_temp.read(NULL), 'a1,a2', 'without a model version nobody is left out');
SELECT is(pg_temp.read('m2'), 'a1,a2', 'a score of another model version: read again');
SELECT is((SELECT count(*) FROM career_readiness_inputs_batch((SELECT a FROM tap_ids))), 2::bigint,
          'career_readiness_inputs_batch leaves nobody out');

-- A new version of the profile row.
SAVEPOINT s1;
UPDATE user_career_profiles SET available_study_hours_week = 6 WHERE user_id = '99999999-0000-0000-0000-0000000000a1';
RELEASE SAVEPOINT s1;
SELECT is(pg_temp.read('m1'), 'a1,a2', 'the profile changed: read again');
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');
SELECT is(pg_temp.read('m1'), 'a2', 'stored again with the new fingerprint: left out');

-- A roll-up row appears (a coaching session's counts), then a new version of it.
SAVEPOINT s2;
INSERT INTO readiness_activity_rollups (user_id, coach_n) VALUES ('99999999-0000-0000-0000-0000000000a1', 1);
RELEASE SAVEPOINT s2;
SELECT is(pg_temp.read('m1'), 'a1,a2', 'a roll-up row appeared: read again');
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');
SAVEPOINT s3;
UPDATE readiness_activity_rollups SET coach_n = 2 WHERE user_id = '99999999-0000-0000-0000-0000000000a1';
RELEASE SAVEPOINT s3;
SELECT is(pg_temp.read('m1'), 'a1,a2', 'a roll-up row changed: read again');
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');

-- The reference data (a skill's market demand) is part of every fingerprint.
SELECT is(pg_temp.read('m1'), 'a2', 'unchanged: left out');
-- (the suite's database is not seeded: a skill of its own)
INSERT INTO skill_taxonomy (skill_id, skill_code, name, category, industry_demand_score)
VALUES ('99999999-0000-0000-0000-0000000000b1', 'tap-fp', 'TAP fingerprint', 'programming', 40);
SELECT is(pg_temp.read('m1'), 'a1,a2', 'a skill added: read again');
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');
UPDATE skill_taxonomy SET industry_demand_score = 41 WHERE skill_id = '99999999-0000-0000-0000-0000000000b1';
SELECT is(pg_temp.read('m1'), 'a1,a2', 'a skill''s market demand changed: read again');

-- A score stored without a fingerprint (before 0093) is always recomputed.
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');
UPDATE career_readiness_scores SET inputs_fp = NULL WHERE user_id = '99999999-0000-0000-0000-0000000000a1';
SELECT is(pg_temp.read('m1'), 'a1,a2', 'a score without a fingerprint: read again');

-- No activity at all: the as-of time is the clock's, so no fingerprint (the days in the
-- programme move with no row changing) and the learner is never left out; nor with p_as_of.
SELECT is(pg_temp.fp('99999999-0000-0000-0000-0000000000a5'), NULL, 'no activity: no fingerprint');
SELECT is((SELECT inputs_fp FROM career_readiness_inputs_fp(ARRAY['99999999-0000-0000-0000-0000000000a1']::uuid[],
                                                            '2026-11-03 00:00+00')), NULL,
          'a given as-of time: no fingerprint');

-- As cs-readiness's role.
SELECT pg_temp.store('99999999-0000-0000-0000-0000000000a1', 'm1');
SELECT is(tap.run_as('cs_worker_readiness', NULL,
                     $$SELECT * FROM career_readiness_inputs_fp(ARRAY['99999999-0000-0000-0000-0000000000a1',
                                                                     '99999999-0000-0000-0000-0000000000a2']::uuid[], NULL, 'm1')$$),
          1::bigint, 'cs_worker_readiness reads with the skip');

SELECT * FROM finish();
ROLLBACK;
