-- tests/sql/36_readiness_scores_learner_fk.sql
--      Migration 0106: the learner foreign key of career_readiness_scores is checked once per
--      statement (learner_fk_check) instead of by the constraint's row trigger, which is
--      disabled; the constraint itself still refuses, cascades (erasure) and checks updates of the
--      key. cs-readiness's upsert (INSERT ... SELECT ... ON CONFLICT (user_id) DO UPDATE, as its
--      role) is checked for the rows it inserts. The concurrent cases (an erasure beside a batch):
--      tests/integration/0121-readiness_scores_learner_fk_concurrency.sh.
BEGIN;
SELECT plan(14);

SELECT is((SELECT array_agg(g.tgenabled::text) FROM pg_trigger g JOIN pg_constraint c ON c.oid = g.tgconstraint
            WHERE g.tgrelid = 'career_readiness_scores'::regclass AND g.tgfoid = '"RI_FKey_check_ins"'::regproc
              AND c.confrelid = 'user_career_profiles'::regclass),
          ARRAY['D'], 'the constraint''s insert row check is disabled');
SELECT is((SELECT array_agg(g.tgenabled::text || ' ' || g.tgtype::text) FROM pg_trigger g
            WHERE g.tgrelid = 'career_readiness_scores'::regclass AND g.tgname = 'trg_0_learner_fk'
              AND g.tgfoid = 'learner_fk_check'::regproc
              AND g.tgargs = convert_to((SELECT conname::text FROM pg_constraint
                                          WHERE conrelid = 'career_readiness_scores'::regclass AND contype = 'f'), 'UTF8')
                             || '\x00'::bytea),
          ARRAY['O 4'], 'the statement check is attached (AFTER INSERT FOR EACH STATEMENT, the constraint''s name)');
SELECT is((SELECT g.tgenabled::text FROM pg_trigger g
            WHERE g.tgrelid = 'career_readiness_scores'::regclass AND g.tgfoid = '"RI_FKey_check_upd"'::regproc),
          'O', 'the constraint''s update check stays');
SELECT is((SELECT confdeltype::text FROM pg_constraint
            WHERE conrelid = 'career_readiness_scores'::regclass AND contype = 'f'
              AND confrelid = 'user_career_profiles'::regclass), 'c',
          'the constraint is still declared, ON DELETE CASCADE');
SELECT is(learner_fk_per_statement(), 0, 'learner_fk_per_statement() is idempotent');

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000036a1');
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000036a2');
-- b1, b2 have no profile.
CREATE TEMP TABLE tap_sc (user_id uuid, score numeric);
GRANT SELECT ON tap_sc TO cs_worker_readiness;
CREATE FUNCTION pg_temp.upsert() RETURNS text LANGUAGE sql AS $$
    SELECT $q$INSERT INTO career_readiness_scores AS t (user_id, score, skills, portfolio, interview, learning,
                  job_search, mentoring, stage, explanation, model_version, computed_at)
              SELECT s.user_id, s.score, 1, 2, 3, 4, 5, 6, 'learning', '{"v":2}', 'm1', now() FROM tap_sc s
              ON CONFLICT (user_id) DO UPDATE SET score = EXCLUDED.score$q$
$$;

INSERT INTO tap_sc VALUES ('aaaaaaaa-0000-0000-0000-0000000036a1', 10);
SELECT is(tap.run_as('cs_worker_readiness', NULL, pg_temp.upsert()), 1::bigint,
          'cs-readiness''s upsert of a first score passes as its role');
-- a1 updated, a2 inserted, b1 inserted: refused for b1, naming it and the constraint.
INSERT INTO tap_sc VALUES ('aaaaaaaa-0000-0000-0000-0000000036a2', 20), ('bbbbbbbb-0000-0000-0000-0000000036b1', 30);
SELECT throws_ok(pg_temp.upsert(), '23503',
                 'insert or update on table "career_readiness_scores" violates foreign key constraint "career_readiness_scores_user_id_fkey"',
                 'an upsert inserting a score for a learner without a profile is refused');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_readiness', NULL, pg_temp.upsert())$$, '23503', NULL,
                 '... as cs-readiness''s role too');
CREATE FUNCTION pg_temp.fk_detail() RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE pg_temp.upsert();
    RETURN NULL;
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END $$;
SELECT is(pg_temp.fk_detail(), 'Key (user_id)=(bbbbbbbb-0000-0000-0000-0000000036b1) is not present in table "user_career_profiles".',
          '... naming the learner');
SELECT throws_ok($$INSERT INTO career_readiness_scores (user_id, score, skills, portfolio, interview, learning,
                       job_search, mentoring, stage, model_version, computed_at)
                   VALUES ('bbbbbbbb-0000-0000-0000-0000000036b2', 1, 1, 1, 1, 1, 1, 1, 'learning', 'm1', now())$$,
                 '23503', NULL, 'a plain insert of an orphan score is refused');
DELETE FROM tap_sc WHERE user_id = 'bbbbbbbb-0000-0000-0000-0000000036b1';
SELECT is(tap.run_as('cs_worker_readiness', NULL, pg_temp.upsert()), 2::bigint,
          'an upsert updating one score and inserting another for known learners passes');
SELECT is((SELECT array_agg(score::text ORDER BY user_id) FROM career_readiness_scores
            WHERE user_id IN ('aaaaaaaa-0000-0000-0000-0000000036a1', 'aaaaaaaa-0000-0000-0000-0000000036a2')),
          ARRAY['10.00', '20.00'], '... both stored');
SELECT throws_ok($$UPDATE career_readiness_scores SET user_id = 'bbbbbbbb-0000-0000-0000-0000000036b1'
                    WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000036a1'$$,
                 '23503', NULL, 'an UPDATE moving a score to an unknown learner is refused (the constraint''s update check)');

-- Erasure removes the learner's score (the constraint's cascade), not another's.
SELECT gdpr_erase_user('aaaaaaaa-0000-0000-0000-0000000036a1', NULL, 'user_request');
SELECT is((SELECT array_agg(user_id::text) FROM career_readiness_scores
            WHERE user_id IN ('aaaaaaaa-0000-0000-0000-0000000036a1', 'aaaaaaaa-0000-0000-0000-0000000036a2')),
          ARRAY['aaaaaaaa-0000-0000-0000-0000000036a2'], 'an erased learner''s score is deleted, another''s stays');

SELECT * FROM finish();
ROLLBACK;
