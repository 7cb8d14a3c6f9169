-- tests/sql/29_readiness_read_stored.sql
--      Migration 0097: career_readiness_inputs_fp gives each learner it returns the score columns
--      stored in career_readiness_scores (0099; NULL without a score there, whatever the progress
--      row holds), the columns
--      cs-readiness decides with, from the same probe as its skip; the skip is unchanged
--      (24_readiness_inputs_fp).
BEGIN;
SELECT plan(7);

INSERT INTO user_career_profiles (user_id, available_study_hours_week, last_active_at)
VALUES ('99999999-0000-0000-0000-0000000000c1', 5, '2026-11-02 10:00+00'),
       ('99999999-0000-0000-0000-0000000000c2', 5, '2026-11-02 10:00+00'),
       ('99999999-0000-0000-0000-0000000000c3', 5, '2026-11-02 10:00+00');
-- c1: a full score; c2: a score of another writer on its progress row only (0010's columns, not
-- cs-readiness's since 0099); c3: nothing.
INSERT INTO career_readiness_scores (user_id, score, skills, portfolio, interview, learning, job_search, mentoring,
    stage, emitted_score, emitted_stage, computed_at, model_version)
VALUES ('99999999-0000-0000-0000-0000000000c1', 55.67, 52, 61, 55.33, 63.25, 28.33, 72.5, 'interviewing',
        54.01, 'job_searching', now(), 'm1');
INSERT INTO career_transformation_progress (user_id, readiness_score, readiness_computed_at, readiness_stage)
VALUES ('99999999-0000-0000-0000-0000000000c2', 33, now(), 'learning');

CREATE TEMP TABLE tap_read AS
SELECT right(user_id::text, 2) AS u, readiness_score, readiness_technical, readiness_portfolio, readiness_interview,
       readiness_learning, readiness_job_search, readiness_mentoring, readiness_stage, readiness_emitted_score,
       readiness_emitted_stage
  FROM career_readiness_inputs_fp(ARRAY['99999999-0000-0000-0000-0000000000c1', '99999999-0000-0000-0000-0000000000c2',
                                        '99999999-0000-0000-0000-0000000000c3']::uuid[], NULL, 'm1');

SELECT is((SELECT string_agg(u, ',' ORDER BY u) FROM tap_read), 'c1,c2,c3', 'every learner with a profile is read');
SELECT is((SELECT ARRAY[readiness_score, readiness_technical, readiness_portfolio, readiness_interview,
                        readiness_learning, readiness_job_search, readiness_mentoring, readiness_emitted_score]
             FROM tap_read WHERE u = 'c1'),
          ARRAY[55.67, 52, 61, 55.33, 63.25, 28.33, 72.5, 54.01]::numeric[], 'the stored score and dimensions, the last emitted score');
SELECT is((SELECT readiness_stage || '/' || readiness_emitted_stage FROM tap_read WHERE u = 'c1'),
          'interviewing/job_searching', 'the stored stage and the last emitted stage');
SELECT ok((SELECT readiness_score IS NULL AND readiness_stage IS NULL AND readiness_emitted_score IS NULL
             FROM tap_read WHERE u = 'c2'), 'a score on the progress row only: NULL');
SELECT ok((SELECT readiness_score IS NULL AND readiness_stage IS NULL AND readiness_emitted_stage IS NULL
             FROM tap_read WHERE u = 'c3'), 'no score: NULL');
-- The columns match career_readiness_scores's for every learner read.
SELECT is((SELECT count(*)::int FROM tap_read r
             LEFT JOIN career_readiness_scores t ON t.user_id::text LIKE '%' || r.u
            WHERE (r.readiness_score, r.readiness_technical, r.readiness_portfolio, r.readiness_interview,
                   r.readiness_learning, r.readiness_job_search, r.readiness_mentoring, r.readiness_stage,
                   r.readiness_emitted_score, r.readiness_emitted_stage)
                  IS DISTINCT FROM
                  (t.score, t.skills, t.portfolio, t.interview, t.learning, t.job_search, t.mentoring, t.stage,
                   t.emitted_score, t.emitted_stage)), 0,
          'every stored column equals the table''s');
-- What cs-readiness selects, by name (its statement checks the names at start).
SELECT lives_ok($$SELECT i.inputs_fp, i.user_id, i.readiness_score, i.readiness_technical, i.readiness_portfolio,
                         i.readiness_interview, i.readiness_learning, i.readiness_job_search, i.readiness_mentoring,
                         i.readiness_stage, i.readiness_emitted_score, i.readiness_emitted_stage
                    FROM career_readiness_inputs_fp('{}'::uuid[], NULL, 'm1') i$$,
                'the worker''s stored columns by name');

SELECT * FROM finish();
ROLLBACK;
