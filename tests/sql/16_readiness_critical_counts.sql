-- tests/sql/16_readiness_critical_counts.sql
--      Migration 0074: career_critical_content_counts is the count of career-critical content
--      items per industry, recounted from content_chunks after every kind of change, and
--      career_readiness_inputs_batch reads its career_critical_total from it.
BEGIN;
SELECT plan(9);

-- The count as career_readiness_inputs_batch made it before 0074, computed here independently.
CREATE TEMP VIEW tap_critical_expected AS
SELECT x.industry_id, count(DISTINCT cc.content_id)::int AS n
  FROM content_chunks cc CROSS JOIN LATERAL unnest(cc.industry_relevance) AS x(industry_id)
 WHERE cc.is_career_critical
 GROUP BY x.industry_id;

-- Two industries; three items: critical for both, critical for one, not critical.
INSERT INTO industry_sectors (industry_id, industry_code, name)
VALUES ('99999999-0000-0000-0000-0000000000d0', 'tap_a', 'Tap A'), ('99999999-0000-0000-0000-0000000000d1', 'tap_b', 'Tap B');
INSERT INTO content_chunks (content_id, content_type, title, body, industry_relevance, is_career_critical)
VALUES ('99999999-0000-0000-0000-0000000000c2', 'explanation', 'Both', 'body',
        '{99999999-0000-0000-0000-0000000000d0,99999999-0000-0000-0000-0000000000d1}', true),
       ('99999999-0000-0000-0000-0000000000c3', 'explanation', 'A', 'body', '{99999999-0000-0000-0000-0000000000d0}', true),
       ('99999999-0000-0000-0000-0000000000c4', 'explanation', 'Not', 'body', '{99999999-0000-0000-0000-0000000000d0}', false);
SELECT set_config('tap.ind', '99999999-0000-0000-0000-0000000000d0', true);
SELECT results_eq($$SELECT industry_id, n FROM career_critical_content_counts
                     WHERE industry_id::text LIKE '99999999-%' ORDER BY industry_id$$,
                  $$VALUES ('99999999-0000-0000-0000-0000000000d0'::uuid, 2), ('99999999-0000-0000-0000-0000000000d1', 1)$$,
                  'inserted content: 2 career-critical items for A, 1 for B, the other one not counted');
SELECT set_eq('SELECT industry_id, n FROM career_critical_content_counts', 'SELECT industry_id, n FROM tap_critical_expected',
              '... as counted from content_chunks');

-- A and a new industry C, C repeated in the same array (counted once).
INSERT INTO content_chunks (content_id, content_type, title, body, industry_relevance, is_career_critical)
VALUES ('99999999-0000-0000-0000-0000000000c1', 'explanation', 'Critical', 'body',
        ARRAY[current_setting('tap.ind')::uuid, '99999999-0000-0000-0000-0000000000d9', '99999999-0000-0000-0000-0000000000d9'],
        true);
SELECT set_eq('SELECT industry_id, n FROM career_critical_content_counts', 'SELECT industry_id, n FROM tap_critical_expected',
              'an inserted career-critical item counts once per industry it names');
SELECT is((SELECT n FROM career_critical_content_counts WHERE industry_id = '99999999-0000-0000-0000-0000000000d9'), 1,
          '... a new industry gets its row');

UPDATE content_chunks SET is_career_critical = false WHERE content_id = '99999999-0000-0000-0000-0000000000c1';
SELECT set_eq('SELECT industry_id, n FROM career_critical_content_counts', 'SELECT industry_id, n FROM tap_critical_expected',
              'an item no longer career-critical is no longer counted; an industry left with none has no row');

UPDATE content_chunks SET is_career_critical = true, industry_relevance = ARRAY['99999999-0000-0000-0000-0000000000d2'::uuid]
 WHERE content_id = '99999999-0000-0000-0000-0000000000c1';
SELECT set_eq('SELECT industry_id, n FROM career_critical_content_counts', 'SELECT industry_id, n FROM tap_critical_expected',
              'an item moved to another industry counts there');

DELETE FROM content_chunks WHERE content_id = '99999999-0000-0000-0000-0000000000c1';
SELECT set_eq('SELECT industry_id, n FROM career_critical_content_counts', 'SELECT industry_id, n FROM tap_critical_expected',
              'a deleted item is no longer counted');

-- The read: a learner whose target industry has career-critical content.
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000000c1');
UPDATE user_career_profiles SET target_industry_id = current_setting('tap.ind')::uuid
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000c1';
SELECT is((SELECT career_critical_total FROM career_readiness_inputs_batch(ARRAY['aaaaaaaa-0000-0000-0000-0000000000c1'::uuid])),
          (SELECT n FROM tap_critical_expected WHERE industry_id = current_setting('tap.ind')::uuid),
          'career_readiness_inputs_batch: career_critical_total of the target industry');

TRUNCATE content_chunks CASCADE;
SELECT is((SELECT count(*)::int FROM career_critical_content_counts), 0, 'TRUNCATE of content_chunks empties the counts');

SELECT * FROM finish();
ROLLBACK;
