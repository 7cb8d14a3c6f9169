-- tests/sql/30_progress_learner_fk.sql
--      Migration 0098: the learner foreign key of cs-progress's eight busiest tables is checked
--      once per statement (learner_fk_check) instead of by the constraint's row trigger, which is
--      disabled on each table and partition; the constraint itself still refuses, cascades and
--      checks updates. The concurrent cases (an erasure beside an insert) are in
--      tests/integration/0116-progress_learner_fk_concurrency.sh.
BEGIN;
SELECT plan(29);

CREATE TEMP TABLE tap_fk_tables (t text PRIMARY KEY);
INSERT INTO tap_fk_tables VALUES ('user_progress'), ('job_application_status_history'), ('job_applications'),
    ('career_coaching_sessions'), ('interview_preparation'), ('user_skill_assessments'),
    ('career_milestones'), ('user_portfolio_projects');
-- every relation of the eight: the table itself and its partitions
CREATE TEMP VIEW tap_fk_rels AS
SELECT f.t::regclass AS relid FROM tap_fk_tables f
UNION SELECT p.relid FROM tap_fk_tables f, pg_partition_tree(f.t::regclass) p;

-- Every relation of the eight (partitions included): the constraint's insert row check disabled,
-- the statement check attached.
SELECT is((SELECT count(*)::int FROM tap_fk_tables f WHERE f.t::regclass IN (SELECT relid FROM tap_fk_rels)), 8,
          'the relations looked at include the eight tables themselves');
SELECT is(ARRAY(SELECT p.relid::text FROM tap_fk_rels p
                 WHERE EXISTS (SELECT 1 FROM pg_trigger g JOIN pg_constraint c ON c.oid = g.tgconstraint
                                WHERE g.tgrelid = p.relid AND g.tgfoid = '"RI_FKey_check_ins"'::regproc
                                  AND c.confrelid = 'user_career_profiles'::regclass AND g.tgenabled <> 'D')
                 ORDER BY 1), '{}'::text[],
          'no relation of the eight checks its learner per row on insert');
SELECT is(ARRAY(SELECT p.relid::text FROM tap_fk_rels p
                 WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g
                                    WHERE g.tgrelid = p.relid AND g.tgname = 'trg_0_learner_fk'
                                      AND g.tgfoid = 'learner_fk_check'::regproc AND g.tgenabled = 'O')
                 ORDER BY 1), '{}'::text[],
          'every relation of the eight (and each partition) has the statement check');
SELECT is(ARRAY(SELECT f.t FROM tap_fk_tables f
                 WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = f.t::regclass) = 'p'
                   AND NOT EXISTS (SELECT 1 FROM pg_trigger g
                                    WHERE g.tgrelid = f.t::regclass AND g.tgname = 'trg_0_learner_fk_upd'
                                      AND g.tgfoid = 'learner_fk_check'::regproc)
                 ORDER BY 1), '{}'::text[],
          'the partitioned ones check their UPDATEs per statement');
SELECT is((SELECT count(*)::int FROM tap_fk_tables f JOIN pg_constraint c
             ON c.conrelid = f.t::regclass AND c.contype = 'f' AND c.confrelid = 'user_career_profiles'::regclass),
          8, 'the eight foreign keys are still declared');
SELECT is((SELECT count(*)::int FROM tap_fk_tables f JOIN pg_constraint c
             ON c.conrelid = f.t::regclass AND c.contype = 'f' AND c.confrelid = 'user_career_profiles'::regclass
           JOIN pg_trigger g ON g.tgconstraint = c.oid AND g.tgrelid = f.t::regclass
          WHERE g.tgfoid = '"RI_FKey_check_upd"'::regproc AND g.tgenabled = 'O'),
          8, '... with their update checks enabled');
SELECT is(learner_fk_per_statement(), 0, 'learner_fk_per_statement() is idempotent');

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000030a1');
-- b1 has no profile.

-- An orphan in any of the eight is refused with the constraint's SQLSTATE and name.
SELECT throws_ok($$INSERT INTO user_progress (user_id, content_id, event_id, last_event_at)
                   VALUES ('aaaaaaaa-0000-0000-0000-0000000030a1', gen_random_uuid(), gen_random_uuid(), now()),
                          ('bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), gen_random_uuid(), now())$$,
                 '23503', 'insert or update on table "user_progress" violates foreign key constraint "user_progress_user_id_fkey"',
                 'user_progress: a statement with one orphan among known learners is refused');
SELECT throws_ok($$INSERT INTO user_progress_h0 (user_id, content_id, event_id, last_event_at)
                   SELECT u, gen_random_uuid(), gen_random_uuid(), now()
                     FROM (SELECT md5('tap-orphan-' || g)::uuid FROM generate_series(1, 64) g) v(u)
                    WHERE satisfies_hash_partition('user_progress'::regclass, 8, 0, u)$$,
                 '23503', NULL, 'user_progress: an orphan inserted into a partition directly is refused');
SELECT throws_ok($$INSERT INTO job_application_status_history (application_id, user_id, to_status, changed_at)
                   VALUES (gen_random_uuid(), 'bbbbbbbb-0000-0000-0000-0000000030b1', 'applied', now())$$,
                 '23503', NULL, 'job_application_status_history: an orphan is refused');
SELECT throws_ok($$INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title)
                   VALUES (gen_random_uuid(), now(), 'bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), 'Acme', 'Dev')$$,
                 '23503', NULL, 'job_applications: an orphan is refused');
SELECT throws_ok($$INSERT INTO career_coaching_sessions (session_id, scheduled_at, user_id, event_id, session_type)
                   VALUES (gen_random_uuid(), now(), 'bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), 'mock_interview')$$,
                 '23503', NULL, 'career_coaching_sessions: an orphan is refused');
SELECT throws_ok($$INSERT INTO interview_preparation (user_id, event_id, interview_type, completed_at)
                   VALUES ('bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), 'technical', now())$$,
                 '23503', NULL, 'interview_preparation: an orphan is refused');
SELECT throws_ok($$INSERT INTO user_skill_assessments (user_id, event_id, skill_id, assessment_method, proficiency_level, proficiency_score, assessed_at)
                   VALUES ('bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), gen_random_uuid(), 'quiz', 'beginner', 40, now())$$,
                 '23503', NULL, 'user_skill_assessments: an orphan is refused');
SELECT throws_ok($$INSERT INTO career_milestones (user_id, milestone_type)
                   VALUES ('bbbbbbbb-0000-0000-0000-0000000030b1', 'offer_received')$$,
                 '23503', NULL, 'career_milestones: an orphan is refused');
SELECT throws_ok($$INSERT INTO user_portfolio_projects (user_id, project_id, event_id, title)
                   VALUES ('bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), gen_random_uuid(), 'x')$$,
                 '23503', NULL, 'user_portfolio_projects: an orphan is refused');

-- Known learners pass, in one statement of many rows.
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000030a2');
SELECT lives_ok($$INSERT INTO user_progress (user_id, content_id, event_id, last_event_at)
                  SELECT u, gen_random_uuid(), gen_random_uuid(), now()
                    FROM (VALUES ('aaaaaaaa-0000-0000-0000-0000000030a1'::uuid), ('aaaaaaaa-0000-0000-0000-0000000030a2')) v(u),
                         generate_series(1, 50)$$,
                'rows of known learners are inserted');
SELECT is((SELECT count(*)::int FROM user_progress WHERE user_id IN ('aaaaaaaa-0000-0000-0000-0000000030a1',
                                                                     'aaaaaaaa-0000-0000-0000-0000000030a2')),
          102, '... all of them');
-- An upsert (cs-progress's statements) that inserts an orphan is refused too.
SELECT throws_ok($$INSERT INTO interview_preparation (user_id, event_id, interview_type, completed_at)
                   VALUES ('bbbbbbbb-0000-0000-0000-0000000030b9', gen_random_uuid(), 'technical', now())
                   ON CONFLICT (event_id) DO NOTHING$$,
                 '23503', NULL, 'an upsert inserting an orphan is refused');

CREATE TABLE job_applications_tap_p PARTITION OF job_applications FOR VALUES FROM ('2040-01-01') TO ('2040-04-01');

-- The rest of the constraint is PostgreSQL's as before.
-- An UPDATE that changes user_id: the constraint's update row check on a table and within a
-- partition; a row that moves to another partition is deleted and inserted there (no update row
-- check runs), so the partitioned tables check their UPDATEs per statement too.
INSERT INTO interview_preparation (user_id, event_id, interview_type, completed_at)
VALUES ('aaaaaaaa-0000-0000-0000-0000000030a1', gen_random_uuid(), 'technical', now());
SELECT throws_ok($$UPDATE interview_preparation SET user_id = 'bbbbbbbb-0000-0000-0000-0000000030b1'
                    WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a1'$$,
                 '23503', NULL, 'an UPDATE moving rows of a table to an unknown learner is refused');
SELECT throws_ok($$UPDATE user_progress SET user_id = u.id
                     FROM (SELECT md5('tap-orphan-' || g)::uuid AS id FROM generate_series(1, 64) g) u
                    WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2'
                      AND NOT satisfies_hash_partition('user_progress'::regclass, 8,
                                                       (SELECT p.n FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7)) p(n)
                                                         WHERE satisfies_hash_partition('user_progress'::regclass, 8, p.n,
                                                                                        'aaaaaaaa-0000-0000-0000-0000000030a2'::uuid)),
                                                       u.id)$$,
                 '23503', NULL, 'an UPDATE moving rows to another partition and an unknown learner is refused');
SELECT throws_ok($$UPDATE job_applications SET user_id = 'bbbbbbbb-0000-0000-0000-0000000030b1', applied_at = '2040-02-01'
                    WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2'$$,
                 '23503', NULL, '... and so is one moving a row to another range partition');
SELECT throws_ok($$UPDATE user_career_profiles SET user_id = 'bbbbbbbb-0000-0000-0000-0000000030b1'
                    WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2'$$,
                 '23503', NULL, 'a referenced learner key cannot change');
SELECT throws_ok($$TRUNCATE user_career_profiles$$, '0A000', NULL, 'TRUNCATE of the profiles alone is refused');
DELETE FROM user_career_profiles WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2';
SELECT is((SELECT count(*)::int FROM (SELECT 1 FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2'
                                      UNION ALL SELECT 1 FROM job_applications WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2'
                                      UNION ALL SELECT 1 FROM user_portfolio_projects WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000030a2') x),
          0, 'deleting a profile still cascades to its rows');

-- A partition created by hand (not by cs_partition_create: see
-- tests/sql/34_progress_partitions_updated_at.sql) keeps the constraint's row check (correct,
-- per row) until learner_fk_per_statement() runs again.
SELECT is((SELECT g.tgenabled::text FROM pg_trigger g WHERE g.tgrelid = 'job_applications_tap_p'::regclass
            AND g.tgfoid = '"RI_FKey_check_ins"'::regproc), 'O', 'a new partition checks per row');
SELECT is(learner_fk_per_statement(), 2, 'learner_fk_per_statement() puts it on the statement check (two changes)');
SELECT is((SELECT g.tgenabled::text FROM pg_trigger g WHERE g.tgrelid = 'job_applications_tap_p'::regclass
            AND g.tgfoid = '"RI_FKey_check_ins"'::regproc), 'D', '... its row check disabled');
SELECT throws_ok($$INSERT INTO job_applications_tap_p (application_id, applied_at, user_id, event_id, company_name, job_title)
                   VALUES (gen_random_uuid(), '2040-02-01', 'bbbbbbbb-0000-0000-0000-0000000030b1', gen_random_uuid(), 'Acme', 'Dev')$$,
                 '23503', NULL, '... and an orphan inserted into it directly still refused');

SELECT * FROM finish();
ROLLBACK;
