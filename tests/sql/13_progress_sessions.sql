-- tests/sql/13_progress_sessions.sql
--      Migration 0059: a completed session of a mentorship still counts when inserted, others
--      do not call the trigger, and a session is found by id through the primary key.
BEGIN;
SELECT plan(4);

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-00000000000c', 3);
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status)
VALUES ('eeeeeeee-0000-0000-0000-000000000001', 'cccccccc-0000-0000-0000-00000000000c', 'aaaaaaaa-0000-0000-0000-00000000000a', 'active');

INSERT INTO career_coaching_sessions (session_id, scheduled_at, user_id, mentor_id, relationship_id, event_id, session_type, status)
VALUES ('33333333-0000-0000-0000-000000000001', '2026-01-05 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        'cccccccc-0000-0000-0000-00000000000c', 'eeeeeeee-0000-0000-0000-000000000001', gen_random_uuid(), 'check_in', 'completed'),
       ('33333333-0000-0000-0000-000000000002', '2026-01-06 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        'cccccccc-0000-0000-0000-00000000000c', NULL, gen_random_uuid(), 'check_in', 'completed'),
       ('33333333-0000-0000-0000-000000000003', '2026-01-07 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        'cccccccc-0000-0000-0000-00000000000c', 'eeeeeeee-0000-0000-0000-000000000001', gen_random_uuid(), 'check_in', 'scheduled');
SELECT results_eq($$SELECT sessions_completed::int, last_session_at FROM mentorship_relationships
                     WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000001'$$,
                  $$VALUES (1, '2026-01-05 10:00Z'::timestamptz)$$,
                  'an inserted completed session of the mentorship counts, the others do not');
UPDATE career_coaching_sessions SET status = 'completed' WHERE session_id = '33333333-0000-0000-0000-000000000003';
SELECT is((SELECT sessions_completed::int FROM mentorship_relationships
            WHERE relationship_id = 'eeeeeeee-0000-0000-0000-000000000001'), 2,
          'a session completed later counts once');

SELECT hasnt_index('public', 'career_coaching_sessions', 'idx_coaching_sessions_session',
                   'the session_id index is gone');
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
    plan text := '';
BEGIN
    FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || r || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET LOCAL enable_seqscan = off;
SELECT ok(pg_temp.plan_of($$SELECT * FROM career_coaching_sessions WHERE session_id = '33333333-0000-0000-0000-000000000001'$$)
          LIKE '%Index Scan using career_coaching_sessions_%_pkey%',
          'a session is found by id through the primary key');

SELECT * FROM finish();
ROLLBACK;
