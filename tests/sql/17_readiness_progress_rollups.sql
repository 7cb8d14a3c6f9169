-- tests/sql/17_readiness_progress_rollups.sql
--      Migration 0079: readiness_progress_rollups equals a recount from the raw user_progress rows
--      after inserts, cs-progress's upsert, updates (a time moved back, a row moved to another
--      learner), content made career-critical or not, deletes and erasure; and
--      career_readiness_inputs_batch's progress inputs equal those computed from the rows, the
--      30-day study time on both of its paths (the roll-up's sum, the rows' sum).
BEGIN;
SELECT plan(19);

-- The roll-up as counted from the rows (the exact columns), independently of its functions.
CREATE TEMP VIEW tap_rollup_expected AS
SELECT up.user_id, count(*)::int AS started,
       count(*) FILTER (WHERE up.status IN ('completed', 'mastered'))::int AS completed,
       count(*) FILTER (WHERE up.status IN ('completed', 'mastered') AND cc.is_career_critical)::int AS critical,
       coalesce(sum(up.best_score), 0) AS score_sum, count(up.best_score)::int AS score_n,
       coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at IS NOT NULL), 0)::bigint AS secs_sum,
       max(up.last_event_at) AS last_event_at,
       coalesce(jsonb_object_agg(up.content_id, jsonb_build_array(
                    (extract(epoch FROM up.last_accessed_at) * 1000000)::bigint, up.time_spent_seconds))
                FILTER (WHERE up.last_accessed_at IS NOT NULL AND up.time_spent_seconds > 0), '{}') AS accessed
  FROM user_progress up LEFT JOIN content_chunks cc ON cc.content_id = up.content_id
 GROUP BY up.user_id;
CREATE TEMP VIEW tap_rollup_actual AS
SELECT user_id, started, completed, critical, score_sum, score_n, secs_sum, last_event_at, accessed
  FROM readiness_progress_rollups;
-- The bounds hold every row's access time (NULL when no row has one).
CREATE TEMP VIEW tap_rollup_bounds_bad AS
SELECT r.user_id FROM readiness_progress_rollups r
  JOIN (SELECT user_id, min(last_accessed_at) AS lo, max(last_accessed_at) AS hi FROM user_progress GROUP BY user_id) x
    ON x.user_id = r.user_id
 WHERE (x.lo IS NULL) <> (r.accessed_lo IS NULL) OR r.accessed_lo > x.lo OR r.accessed_hi < x.hi;

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000000e1');
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000000e2');
INSERT INTO content_chunks (content_id, content_type, title, body, is_career_critical)
VALUES ('99999999-0000-0000-0000-0000000000e1', 'explanation', 'Critical', 'body', true),
       ('99999999-0000-0000-0000-0000000000e2', 'explanation', 'Plain', 'body', false);

INSERT INTO user_progress (user_id, content_id, event_id, last_event_at, status, completed_at, last_accessed_at,
                           time_spent_seconds, best_score)
VALUES ('aaaaaaaa-0000-0000-0000-0000000000e1', '99999999-0000-0000-0000-0000000000e1', gen_random_uuid(),
        '2026-05-10 10:00Z', 'completed', '2026-05-10 10:00Z', '2026-05-10 10:00Z', 600, 81.50),
       ('aaaaaaaa-0000-0000-0000-0000000000e1', '99999999-0000-0000-0000-0000000000e2', gen_random_uuid(),
        '2026-05-20 10:00Z', 'in_progress', NULL, '2026-05-20 10:00Z', 300, 40.25),
       ('aaaaaaaa-0000-0000-0000-0000000000e1', '99999999-0000-0000-0000-0000000000e3', gen_random_uuid(),
        '2026-05-21 10:00Z', 'in_progress', NULL, NULL, 900, NULL),
       ('aaaaaaaa-0000-0000-0000-0000000000e2', '99999999-0000-0000-0000-0000000000e1', gen_random_uuid(),
        '2026-03-01 10:00Z', 'mastered', '2026-03-01 10:00Z', '2026-03-01 10:00Z', 120, 99.99);
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'inserted rows: the roll-up is the recount');

-- cs-progress's upsert: one row newer (completed -> in_progress, time added), one row new.
INSERT INTO user_progress AS t (user_id, content_id, event_id, last_event_at, status, last_accessed_at, time_spent_seconds, best_score)
VALUES ('aaaaaaaa-0000-0000-0000-0000000000e1', '99999999-0000-0000-0000-0000000000e1', gen_random_uuid(),
        '2026-05-25 10:00Z', 'in_progress', '2026-05-25 10:00Z', 60, 90),
       ('aaaaaaaa-0000-0000-0000-0000000000e2', '99999999-0000-0000-0000-0000000000e2', gen_random_uuid(),
        '2026-06-01 10:00Z', 'in_progress', '2026-06-01 10:00Z', 30, NULL)
ON CONFLICT (user_id, content_id) DO UPDATE
   SET status = EXCLUDED.status, last_event_at = greatest(t.last_event_at, EXCLUDED.last_event_at),
       last_accessed_at = greatest(t.last_accessed_at, EXCLUDED.last_accessed_at),
       time_spent_seconds = t.time_spent_seconds + EXCLUDED.time_spent_seconds,
       best_score = greatest(t.best_score, EXCLUDED.best_score);
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'upsert (insert and update): the recount');

-- One statement drops a learner's item from the map (its time set to 0), keeps another with
-- a new value, and leaves another learner's item as it was but rewritten (the roll-up strips the
-- map only when an item goes: both branches).
UPDATE user_progress SET time_spent_seconds = CASE WHEN content_id = '99999999-0000-0000-0000-0000000000e2' THEN 0
                                                   ELSE time_spent_seconds + 5 END
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000e1'
    OR (user_id = 'aaaaaaaa-0000-0000-0000-0000000000e2' AND content_id = '99999999-0000-0000-0000-0000000000e1');
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'an item dropped, others kept in one statement: the recount');
UPDATE user_progress SET time_spent_seconds = 45
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000e1' AND content_id = '99999999-0000-0000-0000-0000000000e2';
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', '... and the item back: the recount');

-- 0103: the career-critical test of the roll-up reads the critical ids from a partial index.
SELECT is((SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indexrelid = to_regclass('public.idx_content_chunks_career_critical')),
          'CREATE INDEX idx_content_chunks_career_critical ON public.content_chunks USING btree (content_id) WHERE is_career_critical',
          'the career-critical content ids have their partial index');

-- The newest row moved back in time (the newest activity must follow), a score cleared.
UPDATE user_progress SET last_event_at = '2026-05-01 10:00Z', last_accessed_at = '2026-05-01 10:00Z', best_score = NULL
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000e1' AND content_id = '99999999-0000-0000-0000-0000000000e1';
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'a time moved back: the recount');
SELECT is_empty('SELECT * FROM tap_rollup_bounds_bad', '... the access-time bounds hold every row');

-- A row moved to the other learner (another hash partition or not).
UPDATE user_progress SET user_id = 'aaaaaaaa-0000-0000-0000-0000000000e2'
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000e1' AND content_id = '99999999-0000-0000-0000-0000000000e3';
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'a row moved to another learner: the recount');

-- Content made career-critical, then not.
UPDATE content_chunks SET is_career_critical = true WHERE content_id = '99999999-0000-0000-0000-0000000000e2';
UPDATE user_progress SET status = 'completed', completed_at = last_event_at WHERE content_id = '99999999-0000-0000-0000-0000000000e2';
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'content made career-critical: the recount');
UPDATE content_chunks SET is_career_critical = false WHERE content_id = '99999999-0000-0000-0000-0000000000e1';
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'content no longer career-critical: the recount');
SELECT ok((SELECT sum(critical) FROM readiness_progress_rollups r WHERE r.user_id::text LIKE 'aaaaaaaa-%') = 2,
          '... two completed items of the learners are career-critical');

-- The read: progress inputs as of a time whose window holds every row, and one holding some.
CREATE TEMP VIEW tap_read_expected AS
SELECT u.user_id, a.as_of, count(up.content_id)::int AS started,
       count(up.content_id) FILTER (WHERE up.status IN ('completed', 'mastered'))::int AS completed,
       count(up.content_id) FILTER (WHERE up.status IN ('completed', 'mastered') AND cc.is_career_critical)::int AS critical,
       round(avg(up.best_score), 2) AS avg_score,
       coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at > a.as_of - interval '30 days'
                                                  AND up.last_accessed_at <= a.as_of), 0)::bigint AS secs
  FROM (VALUES ('aaaaaaaa-0000-0000-0000-0000000000e1'::uuid), ('aaaaaaaa-0000-0000-0000-0000000000e2')) u(user_id)
 CROSS JOIN (VALUES ('2026-06-02 00:00Z'::timestamptz), ('2026-05-31 00:00Z'), ('2026-06-10 00:00Z'), ('2026-07-15 00:00Z')) a(as_of)
  LEFT JOIN user_progress up ON up.user_id = u.user_id
  LEFT JOIN content_chunks cc ON cc.content_id = up.content_id
 GROUP BY u.user_id, a.as_of;
SELECT set_eq($$SELECT r.user_id, a.as_of, r.content_started, r.content_completed, r.career_critical_completed,
                       r.avg_content_score, r.study_seconds_30d
                  FROM (VALUES ('2026-06-02 00:00Z'::timestamptz), ('2026-05-31 00:00Z'), ('2026-06-10 00:00Z'), ('2026-07-15 00:00Z')) a(as_of)
                 CROSS JOIN LATERAL career_readiness_inputs_batch(
                       ARRAY['aaaaaaaa-0000-0000-0000-0000000000e1', 'aaaaaaaa-0000-0000-0000-0000000000e2']::uuid[], a.as_of) r$$,
              'SELECT * FROM tap_read_expected', 'the read: progress inputs and 30-day study time as counted from the rows');
-- Both paths taken: learner e1's rows all inside the window of 05-31 (the roll-up's sum), some
-- of them in that of 06-10 (the sum of the items in the window).
SELECT ok((SELECT r.accessed_lo > '2026-05-31 00:00Z'::timestamptz - interval '30 days' AND r.accessed_hi <= '2026-05-31 00:00Z'
                  AND e.secs = r.secs_sum AND r.secs_sum > 0 AND f.secs NOT IN (0, r.secs_sum)
             FROM readiness_progress_rollups r
             JOIN tap_read_expected e ON e.user_id = r.user_id AND e.as_of = '2026-05-31 00:00Z'
             JOIN tap_read_expected f ON f.user_id = r.user_id AND f.as_of = '2026-06-10 00:00Z'
            WHERE r.user_id = 'aaaaaaaa-0000-0000-0000-0000000000e1'),
          '... the windows exercise both the roll-up sum and the items');
SELECT is((SELECT last_activity_at FROM career_readiness_inputs_batch(ARRAY['aaaaaaaa-0000-0000-0000-0000000000e2']::uuid[])),
          (SELECT greatest(max(up.last_event_at), max(p.last_active_at)) FROM user_progress up
             JOIN user_career_profiles p USING (user_id) WHERE up.user_id = 'aaaaaaaa-0000-0000-0000-0000000000e2'),
          'the read: the newest activity');

-- Deletes: one row, then an erasure (the profile's cascade).
DELETE FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000e2' AND content_id = '99999999-0000-0000-0000-0000000000e1';
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'a deleted row: the recount');
SELECT is_empty('SELECT * FROM tap_rollup_bounds_bad', '... the access-time bounds hold every row');
SELECT gdpr_erase_user('aaaaaaaa-0000-0000-0000-0000000000e1');
SELECT set_eq('SELECT * FROM tap_rollup_actual', 'SELECT * FROM tap_rollup_expected', 'erasure: the recount');
SELECT is_empty($$SELECT 1 FROM readiness_progress_rollups WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000000e1'$$,
                '... the erased learner has no roll-up row');

TRUNCATE user_progress;
SELECT is((SELECT count(*)::int FROM readiness_progress_rollups), 0, 'TRUNCATE of user_progress empties the roll-up');

SELECT * FROM finish();
ROLLBACK;
