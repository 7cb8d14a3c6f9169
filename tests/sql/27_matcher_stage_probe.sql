-- tests/sql/27_matcher_stage_probe.sql
--      mentor_rematch_inputs() (cs-matcher's read, migration 0094): whether a readiness change
--      moved the stage, from (learner, trigger_event_id) pairs, and what that costs: a probe per
--      pair, not one index descent per stage event for every learner read (learners x events).
BEGIN;
SELECT plan(9);

-- Mentor M (10 places); learners A..E with an active relationship with M.
SELECT tap.make_mentor('cccccccc-0000-0000-0000-0000000000c1', 10);
SELECT tap.make_learner(('aaaaaaaa-0000-0000-0000-00000000000' || x)::uuid) FROM unnest('{1,2,3,4,5}'::text[]) x;
INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, started_at)
SELECT 'cccccccc-0000-0000-0000-0000000000c1', ('aaaaaaaa-0000-0000-0000-00000000000' || x)::uuid, 'active',
       now() - interval '30 days'
  FROM unnest('{1,2,3,4,5}'::text[]) x;

-- History (event ids bbbbbbbb-...-<learner><n>): A 'exploring' then 'job_ready' (moved), an
-- unemitted 'interviewing' between them; B 'exploring' twice (not moved); C its first emitted
-- change (nothing before it: not moved); D an emitted 'exploring', then a 'job_ready' that was not
-- emitted (not moved); E moved, but its event is given with another learner (D).
CREATE FUNCTION pg_temp.h(p_user text, p_n int, p_stage text, p_emitted boolean, p_minutes int) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO career_readiness_history (user_id, source_event_id, score, stage, skills, portfolio, interview,
                                          learning, job_search, mentoring, model_version, emitted, computed_at)
    VALUES (('aaaaaaaa-0000-0000-0000-00000000000' || p_user)::uuid,
            ('bbbbbbbb-0000-0000-0000-0000000000' || p_user || p_n)::uuid,
            50, p_stage, 50, 50, 50, 50, 50, 50, 'tap', p_emitted,
            '2026-01-01'::timestamptz + make_interval(mins => p_minutes));
$$;
SELECT pg_temp.h('1', 1, 'exploring', true, 0), pg_temp.h('1', 2, 'interviewing', false, 5),
       pg_temp.h('1', 3, 'job_ready', true, 10),
       pg_temp.h('2', 1, 'exploring', true, 0), pg_temp.h('2', 2, 'exploring', true, 10),
       pg_temp.h('3', 1, 'job_ready', true, 10),
       pg_temp.h('4', 1, 'exploring', true, 0), pg_temp.h('4', 2, 'job_ready', false, 10),
       pg_temp.h('5', 1, 'exploring', true, 0), pg_temp.h('5', 2, 'job_ready', true, 10);

CREATE FUNCTION pg_temp.stage(p_users uuid[], p_events uuid[]) RETURNS text
    LANGUAGE sql
AS $$
    SELECT string_agg(right(id::text, 1) || ':' || stage_changed, ' ' ORDER BY id)
      FROM mentor_rematch_inputs(ARRAY(SELECT ('aaaaaaaa-0000-0000-0000-00000000000' || x)::uuid
                                         FROM unnest('{1,2,3,4,5}'::text[]) x),
                                 '{}', '{}', '{}', p_users, p_events, 3)
     WHERE kind = 'learner';
$$;

SELECT is(pg_temp.stage('{aaaaaaaa-0000-0000-0000-000000000001,aaaaaaaa-0000-0000-0000-000000000002,
                          aaaaaaaa-0000-0000-0000-000000000003,aaaaaaaa-0000-0000-0000-000000000004,
                          aaaaaaaa-0000-0000-0000-000000000004}',
                        '{bbbbbbbb-0000-0000-0000-000000000013,bbbbbbbb-0000-0000-0000-000000000022,
                          bbbbbbbb-0000-0000-0000-000000000031,bbbbbbbb-0000-0000-0000-000000000042,
                          bbbbbbbb-0000-0000-0000-000000000052}'),
          '1:true 2:false 3:false 4:false 5:false',
          'moved: A (its last emitted change before it had another stage, the unemitted one between does not count); '
          'not: B (same stage), C (first emitted change), D (change not emitted), E (its event given with another learner)');
SELECT is(pg_temp.stage('{aaaaaaaa-0000-0000-0000-000000000005}', '{bbbbbbbb-0000-0000-0000-000000000052}'),
          '1:false 2:false 3:false 4:false 5:true', 'E''s event with E: moved');
SELECT is(pg_temp.stage('{aaaaaaaa-0000-0000-0000-000000000001}', '{bbbbbbbb-0000-0000-0000-000000000011}'),
          '1:false 2:false 3:false 4:false 5:false', 'A''s first emitted change: not moved');
SELECT is(pg_temp.stage('{}', '{}'), '1:false 2:false 3:false 4:false 5:false', 'no stage event: none moved');
SELECT is(pg_temp.stage('{aaaaaaaa-0000-0000-0000-000000000001,aaaaaaaa-0000-0000-0000-000000000001}',
                        '{bbbbbbbb-0000-0000-0000-000000000013,bbbbbbbb-0000-0000-0000-000000000013}'),
          '1:true 2:false 3:false 4:false 5:false', 'an event given twice: one row for the learner');

-- The cost: 500 learners with a mentor (100 mentors of 5) read against the stage events of 2,000
-- other learners, every learner with two emitted changes, measured in buffers (deterministic,
-- unlike time). The six-argument version probed the primary key with (user_id, source_event_id
-- = ANY (events)) for every learner read: one descent per stage event, 500 x 2,000.
INSERT INTO mentor_profiles (mentor_id, display_name, max_mentees)
SELECT md5('tap-mentor-' || i)::uuid, 'Mentor ' || i, 5 FROM generate_series(1, 100) i;
INSERT INTO user_career_profiles (user_id, profile_source, display_name)
SELECT md5('tap-learner-' || i)::uuid, 'app', 'Learner ' || i FROM generate_series(1, 2500) i;
INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, started_at)
SELECT md5('tap-mentor-' || (i % 100 + 1))::uuid, md5('tap-learner-' || i)::uuid, 'active', now() - interval '30 days'
  FROM generate_series(1, 500) i;
INSERT INTO career_readiness_history (user_id, source_event_id, score, stage, skills, portfolio, interview,
                                      learning, job_search, mentoring, model_version, emitted, computed_at)
SELECT md5('tap-learner-' || i)::uuid, md5('tap-event-' || i || '-' || n)::uuid, 50,
       CASE WHEN n = 1 OR i % 2 = 0 THEN 'exploring' ELSE 'job_ready' END, 50, 50, 50, 50, 50, 50, 'tap', true,
       '2026-01-01'::timestamptz + make_interval(mins => n)
  FROM generate_series(1, 2500) i, generate_series(1, 2) n;
-- No ANALYZE: as in a drain, the rows are newer than the statistics. With them the six-argument
-- version chose another plan here (~42 buffers per stage event); without, ~1,000: 2.0 million.

-- Shared buffers (hit + read) of one call with the given stage pairs.
CREATE FUNCTION pg_temp.buffers(p_users uuid[], p_events uuid[]) RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    j json;
BEGIN
    EXECUTE format('EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM mentor_rematch_inputs(%L, ''{}'', ''{}'', ''{}'', %L, %L, 3)',
                   ARRAY(SELECT md5('tap-learner-' || i)::uuid FROM generate_series(1, 2500) i), p_users, p_events)
        INTO j;
    RETURN (j -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::bigint + (j -> 0 -> 'Plan' ->> 'Shared Read Blocks')::bigint;
END
$$;
CREATE TEMP TABLE cost AS
SELECT pg_temp.buffers('{}', '{}') AS b_without,
       pg_temp.buffers(ARRAY(SELECT md5('tap-learner-' || i)::uuid FROM generate_series(501, 2500) i),
                       ARRAY(SELECT md5('tap-event-' || i || '-2')::uuid FROM generate_series(501, 2500) i)) AS b_with;
SELECT cmp_ok((SELECT b_with - b_without FROM cost), '<', 20 * 2000::bigint,
              '2,000 stage events cost under 20 buffers each, whatever the number of learners read (' ||
              (SELECT b_with - b_without FROM cost) || ')');
SELECT is((SELECT count(*) FILTER (WHERE stage_changed)
             FROM mentor_rematch_inputs(ARRAY(SELECT md5('tap-learner-' || i)::uuid FROM generate_series(1, 2500) i),
                                        ARRAY(SELECT md5('tap-learner-' || i)::uuid FROM generate_series(501, 2500) i),
                                        '{}', '{}',
                                        ARRAY(SELECT md5('tap-learner-' || i)::uuid FROM generate_series(501, 2500) i),
                                        ARRAY(SELECT md5('tap-event-' || i || '-2')::uuid FROM generate_series(501, 2500) i),
                                        3)), 1000::bigint,
          'of the 2,000 learners asking, the 1,000 whose second change moved the stage are flagged');

SELECT ok(to_regprocedure('mentor_rematch_inputs(uuid[], uuid[], uuid[], uuid[], uuid[], integer)') IS NULL,
          'the six-argument version is gone (0094)');
SELECT ok(has_function_privilege('cs_worker_matching',
                                 'mentor_rematch_inputs(uuid[], uuid[], uuid[], uuid[], uuid[], uuid[], integer)', 'EXECUTE'),
          'cs_worker_matching executes the seven-argument version');

SELECT * FROM finish();
ROLLBACK;
