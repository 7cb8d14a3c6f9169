-- tests/sql/10_progress_plans.sql
--      Migrations 0054 and 0055: cs-progress' triggers plan by key, and the review foreign key
--      checks with a generic plan only while a statement on project_reviews runs, still refusing
--      a review of a missing project.
BEGIN;
SELECT plan(9);

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

-- 0055: what plan_cache_mode the foreign-key checks of a statement see, recorded by a row trigger
-- fired after them (AFTER row triggers fire in name order; RI_ConstraintTrigger_* sorts first).
CREATE TEMP TABLE seen (mode text);
CREATE FUNCTION pg_temp.record_mode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen VALUES (current_setting('plan_cache_mode'));
    RETURN NULL;
END
$$;
CREATE TRIGGER zz_record_mode AFTER INSERT OR UPDATE ON project_reviews
    FOR EACH ROW EXECUTE FUNCTION pg_temp.record_mode();

INSERT INTO project_reviews (project_user_id, project_id, reviewer_id, reviewer_type, overall_score)
VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', md5('project-aaaaaaaa-0000-0000-0000-00000000000a')::uuid,
        'cccccccc-0000-0000-0000-00000000000c', 'mentor', 85),
       ('aaaaaaaa-0000-0000-0000-00000000000a', md5('project-aaaaaaaa-0000-0000-0000-00000000000a')::uuid,
        'bbbbbbbb-0000-0000-0000-00000000000b', 'peer', 70);
SELECT is(ARRAY(SELECT mode FROM seen), '{force_generic_plan,force_generic_plan}'::text[],
          'the rows of an INSERT on project_reviews are checked with generic plans');
SELECT is(current_setting('plan_cache_mode'), 'auto', 'after the statement the previous mode is back');

SET LOCAL plan_cache_mode = force_custom_plan;
DELETE FROM seen;
UPDATE project_reviews SET overall_score = 90 WHERE reviewer_type = 'peer';
SELECT is(ARRAY(SELECT mode FROM seen), '{force_generic_plan}'::text[], 'an UPDATE too');
SELECT is(current_setting('plan_cache_mode'), 'force_custom_plan', 'and a mode set by the session is restored');

SELECT throws_ok($$INSERT INTO project_reviews (project_user_id, project_id, reviewer_id, reviewer_type, overall_score)
                   VALUES ('aaaaaaaa-0000-0000-0000-00000000000a', md5('no such project')::uuid,
                           'cccccccc-0000-0000-0000-00000000000c', 'mentor', 85)$$,
                 '23503', NULL, 'a review of a missing project is still refused by the foreign key');
SELECT is((SELECT review_count FROM user_portfolio_projects WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'), 2,
          'the roll-up still counts the reviews');

SELECT * FROM finish();
ROLLBACK;
