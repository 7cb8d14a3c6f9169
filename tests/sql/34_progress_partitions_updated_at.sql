-- tests/sql/34_progress_partitions_updated_at.sql
--      Two things of session 14 on the tables cs-progress writes.
--      1-4. Partitions that partition maintenance creates later (cs_partition_create, cs_partition_ensure,
--      cs_partition_maintain: cs-migrate --maintain-partitions) check the learner foreign key per
--      statement like the ones 0098 switched (learner_fk_per_statement): the clone's row check
--      disabled, trg_0_learner_fk attached, and an orphan still refused. A table that does not
--      check per statement keeps its partitions' row checks.
--      5. Migration 0104: the updated_at trigger of user_progress, user_portfolio_projects,
--      job_applications and user_career_profiles fires only when the statement left updated_at
--      unchanged (as 0089's of career_transformation_progress): an update that does not set it is
--      touched as before, one that sets it (cs-progress's upserts) keeps its own value.
BEGIN;
SELECT plan(16);

-- The learner FK's insert row check and the statement trigger of one relation.
CREATE FUNCTION pg_temp.tap_row_check(rel regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(g.tgenabled::text, ',') FROM pg_trigger g JOIN pg_constraint c ON c.oid = g.tgconstraint
     WHERE g.tgrelid = rel AND g.tgfoid = '"RI_FKey_check_ins"'::regproc
       AND c.confrelid = 'user_career_profiles'::regclass $$;
CREATE FUNCTION pg_temp.tap_stmt_check(rel regclass) RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = rel AND g.tgname = 'trg_0_learner_fk') $$;

INSERT INTO user_career_profiles (user_id, display_name) VALUES ('aaaaaaaa-0000-0000-0000-0000000034a1', 'Tap 34');

-- 1. cs_partition_create with no rows to move (job_applications: range by quarter of applied_at).
SELECT ok(cs_partition_create('job_applications', 'quarter', '2410-02-01 00:00+00'), 'a new quarter of job_applications');
SELECT is(pg_temp.tap_row_check('job_applications_p2410q1'), 'D', '... its learner row check is disabled');
SELECT ok(pg_temp.tap_stmt_check('job_applications_p2410q1'), '... and the statement check attached');
SELECT throws_ok($$INSERT INTO job_applications_p2410q1 (application_id, applied_at, user_id, event_id, company_name, job_title)
                   VALUES (gen_random_uuid(), '2410-02-01', 'bbbbbbbb-0000-0000-0000-0000000034b1', gen_random_uuid(), 'Acme', 'Dev')$$,
                 '23503', NULL, '... an orphan inserted into it directly is refused');
SELECT lives_ok($$INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title)
                   VALUES (gen_random_uuid(), '2410-02-01', 'aaaaaaaa-0000-0000-0000-0000000034a1', gen_random_uuid(), 'Acme', 'Dev')$$,
                '... a known learner''s row goes in');

-- 2. cs_partition_create moving rows out of the DEFAULT partition (career_coaching_sessions: by
--    month of scheduled_at): the new partition and the new DEFAULT both check per statement.
INSERT INTO career_coaching_sessions (session_id, user_id, scheduled_at, event_id, session_type)
VALUES (gen_random_uuid(), 'aaaaaaaa-0000-0000-0000-0000000034a1', '2411-06-15 10:00+00', gen_random_uuid(), 'check_in');
SELECT ok(cs_partition_create('career_coaching_sessions', 'month', '2411-06-15 10:00+00'),
          'a month of career_coaching_sessions made from rows in the DEFAULT partition');
SELECT is(ARRAY[pg_temp.tap_row_check('career_coaching_sessions_p2411m06'), pg_temp.tap_row_check('career_coaching_sessions_default')],
          ARRAY['D', 'D'], '... the new partition''s and the new DEFAULT''s row checks are disabled');
SELECT ok(pg_temp.tap_stmt_check('career_coaching_sessions_p2411m06') AND pg_temp.tap_stmt_check('career_coaching_sessions_default'),
          '... both have the statement check');
SELECT is((SELECT count(*)::int FROM career_coaching_sessions_p2411m06), 1, '... the row moved into it');
SELECT throws_ok($$INSERT INTO career_coaching_sessions_default (session_id, user_id, scheduled_at, event_id, session_type)
                   VALUES (gen_random_uuid(), 'bbbbbbbb-0000-0000-0000-0000000034b1', '2600-01-01 00:00+00', gen_random_uuid(), 'check_in')$$,
                 '23503', NULL, '... an orphan inserted into the new DEFAULT directly is refused');

-- 3. cs_partition_maintain (cs-migrate --maintain-partitions) far ahead.
SELECT cmp_ok(cs_partition_maintain(now() + interval '30 years'), '>', 0, 'cs_partition_maintain makes partitions ahead');
SELECT is(ARRAY(SELECT p.relid::text FROM unnest(ARRAY['job_applications', 'career_coaching_sessions']) t,
                     pg_partition_tree(t::regclass) p
                 WHERE p.isleaf AND (pg_temp.tap_row_check(p.relid) <> 'D' OR NOT pg_temp.tap_stmt_check(p.relid))
                 ORDER BY 1),
          '{}'::text[], '... none of the partitions of the per-statement tables checks per row');

-- 4. A table whose learner FK is checked per row keeps that on its new partitions.
SELECT ok(NOT pg_temp.tap_stmt_check('system_logs'), 'system_logs has no statement check');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_partition_tree('system_logs') p WHERE pg_temp.tap_stmt_check(p.relid)),
          '... nor do its partitions');

-- 5. updated_at: one row of each of the four tables (a partition of the two partitioned ones).
INSERT INTO user_progress (user_id, content_id, event_id, last_event_at)
VALUES ('aaaaaaaa-0000-0000-0000-0000000034a1', gen_random_uuid(), gen_random_uuid(), '2026-05-01');
INSERT INTO user_portfolio_projects (user_id, project_id, event_id, title)
VALUES ('aaaaaaaa-0000-0000-0000-0000000034a1', gen_random_uuid(), gen_random_uuid(), 'Tap 34');
CREATE TEMP TABLE tap_touch (t text PRIMARY KEY, w text);
INSERT INTO tap_touch VALUES
    ('user_progress', 'user_id = ''aaaaaaaa-0000-0000-0000-0000000034a1'''),
    ('user_portfolio_projects', 'user_id = ''aaaaaaaa-0000-0000-0000-0000000034a1'''),
    ('job_applications', 'user_id = ''aaaaaaaa-0000-0000-0000-0000000034a1'''),
    ('user_career_profiles', 'user_id = ''aaaaaaaa-0000-0000-0000-0000000034a1''');
-- per table: [rows, rows touched by an update without updated_at, rows that kept a set value]
CREATE FUNCTION pg_temp.tap_touch_check(t text, w text) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
    n int;
    touched int;
    kept int;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I WHERE %s', t, w) INTO n;
    EXECUTE format('UPDATE %I SET updated_at = ''2001-01-01 00:00+00'' WHERE %s', t, w);
    EXECUTE format('UPDATE %I SET user_id = user_id WHERE %s', t, w);
    EXECUTE format('SELECT count(*) FROM %I WHERE %s AND updated_at > now()', t, w) INTO touched;
    EXECUTE format('UPDATE %I SET updated_at = ''2002-02-02 00:00+00'' WHERE %s', t, w);
    EXECUTE format('SELECT count(*) FROM %I WHERE %s AND updated_at = ''2002-02-02 00:00+00''', t, w) INTO kept;
    RETURN ARRAY[n, touched, kept];
END
$$;
SELECT is(ARRAY(SELECT t.t || ':' || array_to_string(pg_temp.tap_touch_check(t.t, t.w), ',') FROM tap_touch t ORDER BY 1),
          ARRAY['job_applications:1,1,1', 'user_career_profiles:1,1,1', 'user_portfolio_projects:1,1,1', 'user_progress:1,1,1'],
          'an update without updated_at gets clock_timestamp(); one that sets it keeps its value (all four tables)');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
                 WHERE g.tgfoid = 'cs_touch_updated_at'::regproc AND g.tgqual IS NULL
                   AND c.relname IN (SELECT t FROM tap_touch UNION SELECT p.relid::text FROM tap_touch, pg_partition_tree(t::regclass) p)
                 ORDER BY 1), '{}'::text[], '... their triggers and their partitions'' all have the WHEN clause');
SELECT * FROM finish();
ROLLBACK;
