-- tests/sql/02_rls.sql
--      Row-level security: learner isolation (read and write), identity that fails closed,
--      mentors seeing active mentees only, experts and admins by role, least-privilege workers.
BEGIN;
SELECT plan(29);

-- Learners A and B, mentor M (active with A) and mentor N (no relationship).
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a', 'private');
SELECT tap.make_learner('bbbbbbbb-0000-0000-0000-00000000000b', 'employers');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-00000000000c');
SELECT tap.make_mentor('dddddddd-0000-0000-0000-00000000000d');
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status)
VALUES ('eeeeeeee-0000-0000-0000-00000000000e', 'cccccccc-0000-0000-0000-00000000000c',
        'aaaaaaaa-0000-0000-0000-00000000000a', 'active');

-- Learner A reads only A.
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a', 'SELECT * FROM user_progress'), 1::bigint,
          'learner A sees exactly one progress row');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     $$SELECT * FROM user_progress WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'$$), 0::bigint,
          'learner A cannot read learner B''s progress');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a', 'SELECT * FROM user_career_profiles'), 1::bigint,
          'learner A sees only their own profile');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a', 'SELECT * FROM job_applications'), 1::bigint,
          'learner A sees only their own job applications');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     $$SELECT * FROM mentorship_relationships$$), 1::bigint,
          'learner A sees their mentorship');
SELECT is(tap.run_as('cs_app_learner', 'bbbbbbbb-0000-0000-0000-00000000000b',
                     $$SELECT * FROM mentorship_relationships$$), 0::bigint,
          'learner B does not see A''s mentorship');

-- Learner A writes only A.
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     $$UPDATE user_career_profiles SET target_role = 'hacked' WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'$$),
          0::bigint, 'learner A cannot update learner B''s profile');
SELECT is((SELECT target_role FROM user_career_profiles WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'), NULL,
          'learner B''s profile is unchanged');
SELECT is(tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     $$UPDATE user_career_profiles SET target_role = 'data analyst'$$),
          1::bigint, 'learner A updates their own profile (and only it)');
SELECT throws_ok($$SELECT tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     'INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title)
                      VALUES (gen_random_uuid(), now(), ''bbbbbbbb-0000-0000-0000-00000000000b'', gen_random_uuid(), ''X'', ''Y'')')$$,
                 '42501', NULL, 'learner A cannot insert a row owned by learner B');
SELECT throws_ok($$SELECT tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     'UPDATE user_progress SET progress_pct = 99')$$,
                 '42501', NULL, 'learners cannot write progress (only cs-progress does)');
SELECT throws_ok($$SELECT tap.run_as('cs_app_learner', 'aaaaaaaa-0000-0000-0000-00000000000a',
                     'DELETE FROM user_career_profiles')$$,
                 '42501', NULL, 'learners cannot delete profiles');

-- Identity fails closed.
SELECT is(tap.run_as_raw('cs_app_learner', NULL, 'SELECT * FROM user_progress'), 0::bigint,
          'without app.user_id a learner sees nothing');
SELECT is(tap.run_as_raw('cs_app_learner', 'not-a-uuid', 'SELECT * FROM user_progress'), 0::bigint,
          'a malformed app.user_id sees nothing (no error, no rows)');

-- Mentors: active mentees only, and only while active.
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM user_progress'), 1::bigint,
          'mentor M sees the progress of active mentee A');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c',
                     $$SELECT * FROM user_progress WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'$$), 0::bigint,
          'mentor M does not see learner B (not a mentee)');
SELECT is(tap.run_as('cs_app_mentor', 'dddddddd-0000-0000-0000-00000000000d', 'SELECT * FROM user_progress'), 0::bigint,
          'mentor N without mentees sees no progress');
SELECT is(tap.run_as('cs_app_admin', 'ffffffff-0000-0000-0000-00000000000f',
                     $$UPDATE mentorship_relationships SET status = 'ended', end_reason = 'goals_met', ended_at = now()
                        WHERE mentor_id = 'cccccccc-0000-0000-0000-00000000000c'$$), 1::bigint,
          'an admin ends M''s relationship (mentors may not change status, 14_mentor_relationship_status.sql)');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM user_progress'), 0::bigint,
          'after the relationship ended mentor M no longer sees A''s progress');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM user_career_profiles'), 0::bigint,
          '... nor A''s profile');

-- Experts, admins, analytics.
SELECT is(tap.run_as('cs_app_expert', 'ffffffff-0000-0000-0000-00000000000f', 'SELECT * FROM user_portfolio_projects'), 1::bigint,
          'an industry expert sees only portfolio projects opened to employers');
SELECT is(tap.run_as('cs_app_admin', 'ffffffff-0000-0000-0000-00000000000f', 'SELECT * FROM user_progress'), 2::bigint,
          'an admin sees every learner');
SELECT throws_ok($$SELECT tap.run_as('cs_analytics', NULL, 'SELECT * FROM user_career_profiles')$$,
                 '42501', NULL, 'cs_analytics cannot read learner tables');
SELECT lives_ok($$SELECT tap.run_as('cs_analytics', NULL, 'SELECT * FROM mv_mentorship_impact')$$,
                'cs_analytics reads the analytics views');

-- Workers: only the tables they write.
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$INSERT INTO user_progress (user_id, content_id, event_id, last_event_at)
                       VALUES ('bbbbbbbb-0000-0000-0000-00000000000b', md5('content-2')::uuid, gen_random_uuid(), now())$$),
          1::bigint, 'cs_worker_progress writes progress of any learner');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'SELECT * FROM user_progress')$$,
                 '42501', NULL, 'cs_worker_audit cannot read learner progress');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_progress', NULL, 'SELECT * FROM system_logs')$$,
                 '42501', NULL, 'cs_worker_progress cannot read the audit log');

-- FORCE ROW LEVEL SECURITY: an ordinary role that owns the table is filtered too.
SELECT 'tap_owner_' || pg_backend_pid() AS owner_role \gset
CREATE ROLE :"owner_role" NOLOGIN;
ALTER TABLE user_progress OWNER TO :"owner_role";
SELECT is(tap.run_as(:'owner_role', NULL, 'SELECT * FROM user_progress'), 0::bigint,
          'with FORCE ROW LEVEL SECURITY a non-superuser owner sees no learner rows without a policy');
ALTER TABLE user_progress NO FORCE ROW LEVEL SECURITY;
SELECT is(tap.run_as(:'owner_role', NULL, 'SELECT * FROM user_progress'), 3::bigint,
          '(without FORCE the owner would bypass every policy)');

SELECT * FROM finish();
ROLLBACK;
