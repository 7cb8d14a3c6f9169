-- tests/sql/22_progress_rollup_lz4.sql
--      Migration 0087: readiness_progress_rollups.accessed is compressed with lz4; a learner's map
--      past the TOAST threshold, written by the roll-up trigger in cs-progress's upsert and
--      rewritten by the next one, is stored lz4-compressed and still equals the recount from the
--      rows (as in 17_readiness_progress_rollups.sql).
BEGIN;
SELECT plan(5);

SELECT is((SELECT a.attcompression FROM pg_attribute a
            WHERE a.attrelid = 'readiness_progress_rollups'::regclass AND a.attname = 'accessed'),
          'l'::"char", 'accessed is compressed with lz4 (0087)');

CREATE TEMP VIEW tap_lz4_expected AS
SELECT up.user_id, coalesce(jsonb_object_agg(up.content_id, jsonb_build_array(
                    (extract(epoch FROM up.last_accessed_at) * 1000000)::bigint, up.time_spent_seconds))
                FILTER (WHERE up.last_accessed_at IS NOT NULL AND up.time_spent_seconds > 0), '{}') AS accessed,
       coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at IS NOT NULL), 0)::bigint AS secs_sum
  FROM user_progress up
 WHERE up.user_id = 'aaaaaaaa-0000-0000-0000-0000000002e1'
 GROUP BY up.user_id;

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000002e1');

-- 60 content items: a map of ~4 kB, over the heap's TOAST threshold (~2 kB), so it is compressed.
INSERT INTO user_progress (user_id, content_id, event_id, last_event_at, status, last_accessed_at, time_spent_seconds)
SELECT 'aaaaaaaa-0000-0000-0000-0000000002e1', gen_random_uuid(), gen_random_uuid(),
       '2026-05-01 10:00Z'::timestamptz + g * interval '1 minute', 'in_progress',
       '2026-05-01 10:00Z'::timestamptz + g * interval '1 minute', 60 + g
  FROM generate_series(1, 60) g;
SELECT is((SELECT pg_column_compression(accessed) FROM readiness_progress_rollups
            WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000002e1'),
          'lz4', 'a large map written by the insert trigger is stored lz4-compressed');

-- cs-progress's upsert: every row updated (time added), ten rows new; the update trigger rewrites the map.
INSERT INTO user_progress AS t (user_id, content_id, event_id, last_event_at, status, last_accessed_at, time_spent_seconds)
SELECT user_id, content_id, gen_random_uuid(), last_event_at + interval '1 day', 'in_progress',
       last_accessed_at + interval '1 day', 30
  FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000002e1'
UNION ALL
SELECT 'aaaaaaaa-0000-0000-0000-0000000002e1', gen_random_uuid(), gen_random_uuid(), '2026-06-01 10:00Z', 'in_progress',
       '2026-06-01 10:00Z', 45
  FROM generate_series(1, 10)
ON CONFLICT (user_id, content_id) DO UPDATE
   SET last_event_at = greatest(t.last_event_at, EXCLUDED.last_event_at),
       last_accessed_at = greatest(t.last_accessed_at, EXCLUDED.last_accessed_at),
       time_spent_seconds = t.time_spent_seconds + EXCLUDED.time_spent_seconds;
SELECT is((SELECT pg_column_compression(accessed) FROM readiness_progress_rollups
            WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000002e1'),
          'lz4', 'the map rewritten by the update trigger stays lz4-compressed');
SELECT results_eq('SELECT accessed, secs_sum FROM readiness_progress_rollups WHERE user_id = ''aaaaaaaa-0000-0000-0000-0000000002e1''',
                  'SELECT accessed, secs_sum FROM tap_lz4_expected',
                  'the lz4 map equals the recount from the rows');
SELECT is((SELECT count(*)::int FROM readiness_progress_rollups, jsonb_object_keys(accessed)
            WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000002e1'), 70, '... with all 70 items');

SELECT * FROM finish();
ROLLBACK;
