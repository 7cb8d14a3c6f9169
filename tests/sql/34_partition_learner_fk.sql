-- tests/sql/34_partition_learner_fk.sql
--      Partitions that partition maintenance creates later (cs_partition_create, cs_partition_ensure,
--      cs_partition_maintain: cs-migrate --maintain-partitions) check the learner foreign key per
--      statement like the ones 0098 switched (learner_fk_per_statement): the clone's row check
--      disabled, trg_0_learner_fk attached, and an orphan still refused. A table that does not
--      check per statement keeps its partitions' row checks.
BEGIN;
SELECT plan(14);

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

SELECT * FROM finish();
ROLLBACK;
