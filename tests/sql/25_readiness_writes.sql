-- tests/sql/25_readiness_writes.sql
--      Migration 0089: career_transformation_progress's readiness_explanation is a JSON object
--      kept as json (validated, its text kept as written), and the updated_at trigger fires only
--      when the statement left updated_at unchanged: updates that do not set it are touched as
--      before, a statement that sets it (cs-readiness's score upsert) keeps its own value.
BEGIN;
SELECT plan(12);

INSERT INTO user_career_profiles (user_id) VALUES ('99999999-0000-0000-0000-0000000000f1');
INSERT INTO career_transformation_progress (user_id, updated_at)
VALUES ('99999999-0000-0000-0000-0000000000f1', '2001-01-01 00:00:00+00');

SELECT isnt((SELECT tgqual FROM pg_trigger WHERE tgrelid = 'career_transformation_progress'::regclass
              AND tgname = 'trg_career_transformation_progress_updated_at'), NULL,
            'the updated_at trigger has a WHEN clause');

-- An update that does not mention updated_at: the trigger sets it, as on every other table.
UPDATE career_transformation_progress SET content_completed = 1
 WHERE user_id = '99999999-0000-0000-0000-0000000000f1';
SELECT ok((SELECT updated_at > now() FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000f1'),
          'an update without updated_at gets clock_timestamp() from the trigger');

-- Setting it to the value it already has is "unchanged": the trigger still fires.
UPDATE career_transformation_progress SET updated_at = '2002-02-02 00:00:00+00'
 WHERE user_id = '99999999-0000-0000-0000-0000000000f1';
UPDATE career_transformation_progress SET updated_at = updated_at, content_completed = 2
 WHERE user_id = '99999999-0000-0000-0000-0000000000f1';
SELECT ok((SELECT updated_at > now() FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000f1'),
          'updated_at set to its own value is still touched');

-- A statement that sets updated_at keeps its value: the trigger did not run (before 0089 it
-- overwrote this with clock_timestamp()).
UPDATE career_transformation_progress SET updated_at = '2002-02-02 00:00:00+00'
 WHERE user_id = '99999999-0000-0000-0000-0000000000f1';
SELECT is((SELECT updated_at FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000f1'),
          '2002-02-02 00:00:00+00'::timestamptz, 'a statement that sets updated_at skips the trigger');

-- The upsert form cs-readiness used until 0099 (it writes career_readiness_scores since), as a
-- role that writes this table: updated_at = clock_timestamp() set by the statement.
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$INSERT INTO career_transformation_progress AS t (user_id, readiness_score, readiness_computed_at)
                       VALUES ('99999999-0000-0000-0000-0000000000f1', 42.5, now())
                       ON CONFLICT (user_id) DO UPDATE SET readiness_score = EXCLUDED.readiness_score,
                           readiness_computed_at = EXCLUDED.readiness_computed_at,
                           updated_at = pg_catalog.clock_timestamp()$$),
          1::bigint, 'an upsert of a score setting updated_at');
SELECT ok((SELECT updated_at > now() AND readiness_score = 42.5 FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000f1'),
          'the upsert stored the score and moved updated_at to the statement''s clock_timestamp()');

-- The explanation: json, an object, its text kept byte for byte, read with ->> as before.
SELECT is((SELECT format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = 'career_transformation_progress'::regclass AND attname = 'readiness_explanation'),
          'cs_json_object', 'readiness_explanation is a cs_json_object');
SELECT throws_ok($$UPDATE career_transformation_progress SET readiness_explanation = '[1, 2]'
                   WHERE user_id = '99999999-0000-0000-0000-0000000000f1'$$,
                 '23514', NULL, 'an explanation that is an array is refused');
SELECT throws_ok($$UPDATE career_transformation_progress SET readiness_explanation = '{"v":2,'
                   WHERE user_id = '99999999-0000-0000-0000-0000000000f1'$$,
                 '22P02', NULL, 'an explanation that is not JSON is refused');
UPDATE career_transformation_progress SET readiness_explanation = '{"v":2,"overall":42.5,"stage":"learning","best":null}'
 WHERE user_id = '99999999-0000-0000-0000-0000000000f1';
SELECT is((SELECT readiness_explanation::text FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000f1'),
          '{"v":2,"overall":42.5,"stage":"learning","best":null}', 'the explanation is stored as written');
SELECT is((SELECT (readiness_explanation->>'overall')::numeric FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000f1'), 42.5, 'and read with ->>');

-- Every other table keeps 0020's unconditional trigger, but for the four of 0104 (and their
-- partitions; tests/sql/34 checks those).
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'trg\_%\_updated\_at' AND tgqual IS NOT NULL
            AND tgrelid <> 'career_transformation_progress'::regclass
            AND tgrelid NOT IN (SELECT p.relid FROM unnest(ARRAY['user_progress', 'user_portfolio_projects',
                                                                 'job_applications', 'user_career_profiles']) t,
                                     pg_partition_tree(t::regclass) p)
            AND tgrelid NOT IN ('user_portfolio_projects'::regclass, 'user_career_profiles'::regclass)), 0::bigint,
          'no other updated_at trigger has a WHEN clause');

SELECT * FROM finish();
ROLLBACK;
