-- tests/sql/10_progress_plans.sql
--      Migration 0054: cs-progress' set-based triggers plan by key.
BEGIN;
SELECT plan(3);

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a');

-- 0054: the two set-based triggers plan without hash joins, merge joins or sequential scans.
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_proc p, unnest(p.proconfig) c
            WHERE p.oid = 'job_applications_record_initial_status()'::regprocedure AND c LIKE 'enable%'),
          '{enable_hashjoin=off,enable_mergejoin=off,enable_seqscan=off}'::text[],
          'the initial-status trigger looks history rows up by key');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_proc p, unnest(p.proconfig) c
            WHERE p.oid = 'project_reviews_rollup_statement()'::regprocedure AND c LIKE 'enable%'),
          '{enable_hashjoin=off,enable_mergejoin=off,enable_seqscan=off}'::text[],
          'the review roll-up looks reviews and projects up by key');
SELECT is(current_setting('enable_seqscan'), 'on', 'the settings stay inside the functions');

SELECT * FROM finish();
ROLLBACK;
