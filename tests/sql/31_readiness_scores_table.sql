-- tests/sql/31_readiness_scores_table.sql
--      Migration 0099: career_readiness_scores holds cs-readiness's stored score, one narrow row
--      per learner: only its primary key (re-scores can be HOT), row-level security as the
--      progress row's (the learner, the active mentor, admins, cs-readiness), cs-readiness may
--      insert and update but not delete (and no longer has career_transformation_progress), the score goes with the learner's profile (erasure, a
--      delete, TRUNCATE), cs-readiness's upsert form runs as its role, and the analytics views
--      average the score from here; migration 0102's comments on the progress row's emptied
--      readiness columns each name the column of career_readiness_scores that holds the value now.
--      (The carry-over of existing scores: test 0117.)
BEGIN;
SELECT plan(24);

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a', 'private');
SELECT tap.make_learner('bbbbbbbb-0000-0000-0000-00000000000b', 'private');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-00000000000c');
SELECT tap.make_mentor('dddddddd-0000-0000-0000-00000000000d');
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status)
VALUES ('eeeeeeee-0000-0000-0000-00000000000e', 'cccccccc-0000-0000-0000-00000000000c',
        'aaaaaaaa-0000-0000-0000-00000000000a', 'active');
INSERT INTO career_readiness_scores (user_id, score, skills, portfolio, interview, learning, job_search, mentoring,
                                     stage, explanation, model_version, computed_at)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', 40, 1, 2, 3, 4, 5, 6, 'learning', '{"v":2}', 'm1', now()),
       ('bbbbbbbb-0000-0000-0000-00000000000b', 80, 1, 2, 3, 4, 5, 6, 'interviewing', '{"v":2}', 'm1', now());

-- Shape: the primary key is the only index, fillfactor 70, the profile's key with a cascade.
SELECT is((SELECT array_agg(indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'career_readiness_scores'::regclass),
          ARRAY['career_readiness_scores_pkey'], 'the primary key is the only index');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'career_readiness_scores'::regclass),
          ARRAY['fillfactor=70'], 'fillfactor 70');
SELECT is((SELECT confdeltype::text FROM pg_constraint
            WHERE conrelid = 'career_readiness_scores'::regclass AND contype = 'f'
              AND confrelid = 'user_career_profiles'::regclass), 'c',
          'the learner references the profile, ON DELETE CASCADE');
SELECT throws_ok($$INSERT INTO career_readiness_scores (user_id, score, skills, portfolio, interview, learning,
                       job_search, mentoring, stage, model_version, computed_at)
                   VALUES ('99999999-0000-0000-0000-0000000000ff', 1, 1, 1, 1, 1, 1, 1, 'learning', 'm1', now())$$,
                 '23503', NULL, 'no score without a profile');
SELECT throws_ok($$UPDATE career_readiness_scores SET stage = 'done' WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'$$,
                 '23514', NULL, 'the stage is one of the model''s');
SELECT throws_ok($$UPDATE career_readiness_scores SET explanation = '[1]' WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'$$,
                 '23514', NULL, 'the explanation is a JSON object');

-- Row-level security.
SELECT is((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'career_readiness_scores'::regclass),
          true, 'row-level security enabled and forced');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a', 'SELECT * FROM career_readiness_scores'),
          1::bigint, 'a learner sees its own score only');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     $$SELECT * FROM career_readiness_scores WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'$$),
          0::bigint, 'a learner cannot read another''s score');
SELECT throws_ok($$SELECT tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     'UPDATE career_readiness_scores SET score = 99')$$, '42501', NULL, 'a learner cannot write its score');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM career_readiness_scores'),
          1::bigint, 'a mentor sees the score of its active mentee');
SELECT is(tap.run_as('cs_app_mentor', 'dddddddd-0000-0000-0000-00000000000d', 'SELECT * FROM career_readiness_scores'),
          0::bigint, 'a mentor without mentees sees none');
SELECT is(tap.run_as('cs_app_admin', NULL, 'SELECT * FROM career_readiness_scores'), 2::bigint, 'an admin sees all');
SELECT ok(NOT has_table_privilege('cs_worker_progress', 'career_readiness_scores', 'SELECT'),
          'cs-progress has no access');

-- cs-readiness's upsert, as it sends it, as its role; no delete.
SELECT is(tap.run_as('cs_worker_readiness', NULL,
                     $$INSERT INTO career_readiness_scores AS t (user_id, score, skills, portfolio, interview, learning,
                           job_search, mentoring, stage, explanation, model_version, computed_at, source_event_id,
                           emitted_score, emitted_stage, inputs_fp)
                       VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', 42.5, 1, 2, 3, 4, 5, 6, 'learning', '{"v":2}',
                               'm1', now(), NULL, NULL, NULL, 'fp')
                       ON CONFLICT (user_id) DO UPDATE SET score = EXCLUDED.score,
                           emitted_score = coalesce(EXCLUDED.emitted_score, t.emitted_score),
                           inputs_fp = EXCLUDED.inputs_fp$$), 1::bigint, 'cs_worker_readiness upserts a score');
SELECT is((SELECT score || ' ' || inputs_fp FROM career_readiness_scores WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'),
          '42.50 fp', 'the upsert stored the new score');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_readiness', NULL, 'DELETE FROM career_readiness_scores')$$,
                 '42501', NULL, 'cs_worker_readiness cannot delete');
SELECT ok(NOT has_table_privilege('cs_worker_readiness', 'career_transformation_progress', 'INSERT')
          AND NOT has_table_privilege('cs_worker_readiness', 'career_transformation_progress', 'UPDATE')
          AND NOT has_table_privilege('cs_worker_readiness', 'career_transformation_progress', 'SELECT'),
          'cs_worker_readiness no longer has the progress rows');
-- 0102: each emptied column of the progress row says where its value went.
SELECT is(col_description('career_transformation_progress'::regclass,
                          (SELECT attnum FROM pg_attribute WHERE attrelid = 'career_transformation_progress'::regclass
                              AND attname = 'readiness_technical')),
          'Not written by careerstream since migration 0099: cs-readiness stores the score in '
          'career_readiness_scores.skills (join on user_id).', 'the progress row''s readiness_technical names its new home');
SELECT is((SELECT count(*)::int FROM pg_attribute a
            WHERE a.attrelid = 'career_transformation_progress'::regclass AND a.attname LIKE 'readiness%'
              AND NOT a.attisdropped
              AND col_description(a.attrelid, a.attnum) LIKE 'Not written by careerstream since migration 0099:%'
              AND EXISTS (SELECT 1 FROM pg_attribute b
                           WHERE b.attrelid = 'career_readiness_scores'::regclass AND NOT b.attisdropped
                             AND col_description(a.attrelid, a.attnum) LIKE '%career_readiness_scores.' || b.attname || ' (%')),
          15, 'the 15 readiness columns cs-readiness wrote each name an existing column of career_readiness_scores');

-- The analytics views read the score from here.
SELECT refresh_analytics();
SELECT is((SELECT m.avg_readiness_score FROM mv_career_transformation_metrics m
             JOIN user_career_profiles p ON p.user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'
              AND m.industry_id = coalesce(p.target_industry_id, '00000000-0000-0000-0000-000000000000')
              AND m.cohort_month = date_trunc('month', coalesce(p.program_start_date::timestamptz, p.created_at))::date),
          (SELECT round(avg(rs.score), 2) FROM user_career_profiles p
             JOIN career_readiness_scores rs ON rs.user_id = p.user_id
            WHERE p.target_industry_id IS NULL
              AND date_trunc('month', coalesce(p.program_start_date::timestamptz, p.created_at))
                  = date_trunc('month', now())),
          'mv_career_transformation_metrics averages career_readiness_scores.score');
SELECT is((SELECT avg_active_mentee_readiness FROM mv_mentorship_impact
            WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c'), 42.50,
          'mv_mentorship_impact averages the active mentees'' score');

-- The score goes with the profile: erasure, then TRUNCATE.
SELECT gdpr_erase_user('aaaaaaaa-0000-0000-0000-00000000000a', NULL, 'user_request');
SELECT is((SELECT array_agg(left(user_id::text, 1)) FROM career_readiness_scores), ARRAY['b'],
          'an erased learner''s score is deleted, another''s stays');
TRUNCATE user_career_profiles CASCADE;
SELECT is((SELECT count(*)::int FROM career_readiness_scores), 0, 'TRUNCATE of the profiles empties the scores');

SELECT * FROM finish();
ROLLBACK;
