-- tests/sql/20_progress_row_updates.sql
--      Migration 0080: career_transformation_progress's readiness_explanation and
--      readiness_components are JSON objects by a domain (cs_jsonb_object) instead of table
--      CHECKs: still refused when anything else is written, not re-checked when another column of
--      the row is updated; the table keeps room for HOT updates (fillfactor 60).
BEGIN;
SELECT plan(7);

INSERT INTO user_career_profiles (user_id) VALUES ('99999999-0000-0000-0000-0000000000e1');
INSERT INTO career_transformation_progress (user_id) VALUES ('99999999-0000-0000-0000-0000000000e1');

SELECT throws_ok($$UPDATE career_transformation_progress SET readiness_explanation = '[1, 2]'
                   WHERE user_id = '99999999-0000-0000-0000-0000000000e1'$$,
                 '23514', NULL, 'an explanation that is an array is refused');
SELECT throws_ok($$UPDATE career_transformation_progress SET readiness_explanation = '"text"'
                   WHERE user_id = '99999999-0000-0000-0000-0000000000e1'$$,
                 '23514', NULL, 'an explanation that is a string is refused');
SELECT throws_ok($$UPDATE career_transformation_progress SET readiness_components = 'null'
                   WHERE user_id = '99999999-0000-0000-0000-0000000000e1'$$,
                 '23514', NULL, 'components that are a JSON null are refused');
SELECT lives_ok($$UPDATE career_transformation_progress
                     SET readiness_explanation = '{"overall": 42}', readiness_components = '{"a": 1}'
                   WHERE user_id = '99999999-0000-0000-0000-0000000000e1'$$,
                'objects are accepted');
SELECT lives_ok($$UPDATE career_transformation_progress SET content_completed = content_completed + 1
                   WHERE user_id = '99999999-0000-0000-0000-0000000000e1'$$,
                'another column of the row updates');
SELECT is((SELECT readiness_explanation->>'overall' FROM career_transformation_progress
            WHERE user_id = '99999999-0000-0000-0000-0000000000e1'), '42', 'the explanation is kept');
SELECT ok((SELECT 'fillfactor=60' = ANY (reloptions) FROM pg_class
            WHERE oid = 'career_transformation_progress'::regclass), 'fillfactor 60');

SELECT * FROM finish();
ROLLBACK;
