-- tests/sql/11_progress_job_history.sql
--      Migrations 0056 and 0057: a new application folds its status history only when the
--      history changes it, with the same result; applications are found by id without their
--      own index.
BEGIN;
SELECT plan(6);

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a');

-- Only its own 'applied' row (what cs-progress writes first): the application stays as sent.
INSERT INTO job_application_status_history (application_id, user_id, event_id, to_status, changed_at)
VALUES ('11111111-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e1', 'applied', '2026-01-01 10:00Z');
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id)
VALUES ('11111111-0000-0000-0000-000000000001', '2026-01-01 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e1', 'A', 'x', 'applied', '2026-01-01 10:00Z',
        '11111111-0000-0000-0000-0000000000e1');
SELECT results_eq($$SELECT status, last_event_id::text, interview_rounds::int, offer_salary FROM job_applications
                     WHERE application_id = '11111111-0000-0000-0000-000000000001'$$,
                  $$VALUES ('applied'::text, '11111111-0000-0000-0000-0000000000e1', 0, NULL::numeric)$$,
                  'an application whose history is its own submission starts as sent');

-- A newer status with an interview round arrived first: the application starts from it.
INSERT INTO job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at, interview_round)
VALUES ('11111111-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e3', 'applied', 'interviewing', '2026-01-03 10:00Z', 2);
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id)
VALUES ('11111111-0000-0000-0000-000000000002', '2026-01-01 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e2', 'B', 'y', 'applied', '2026-01-01 10:00Z',
        '11111111-0000-0000-0000-0000000000e2');
SELECT results_eq($$SELECT status, last_event_id::text, interview_rounds::int, status_changed_at FROM job_applications
                     WHERE application_id = '11111111-0000-0000-0000-000000000002'$$,
                  $$VALUES ('interviewing'::text, '11111111-0000-0000-0000-0000000000e3', 2, '2026-01-03 10:00Z'::timestamptz)$$,
                  'a late submission starts from the newer status and its interview round');

-- An older history row with an offer salary still gives the salary, and no newer status.
INSERT INTO job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at, offer_salary)
VALUES ('11111111-0000-0000-0000-000000000003', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e5', 'interviewing', 'offer', '2025-12-20 10:00Z', 85000);
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id)
VALUES ('11111111-0000-0000-0000-000000000003', '2026-01-01 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e4', 'C', 'z', 'applied', '2026-01-01 10:00Z',
        '11111111-0000-0000-0000-0000000000e4');
SELECT results_eq($$SELECT status, last_event_id::text, offer_salary FROM job_applications
                     WHERE application_id = '11111111-0000-0000-0000-000000000003'$$,
                  $$VALUES ('applied'::text, '11111111-0000-0000-0000-0000000000e4', 85000::numeric(12,2))$$,
                  'an older offer salary is taken without moving the status back');

-- An application that states no interview_rounds gets the history's (as the fold always did).
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, interview_rounds)
VALUES ('11111111-0000-0000-0000-000000000001', '2026-01-02 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '11111111-0000-0000-0000-0000000000e6', 'A', 'x', 'applied', '2026-01-02 10:00Z', NULL);
SELECT is((SELECT interview_rounds::int FROM job_applications
            WHERE application_id = '11111111-0000-0000-0000-000000000001' AND applied_at = '2026-01-02 10:00Z'), 0,
          'a NULL interview_rounds is still folded to a number');

-- 0057.
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
SELECT hasnt_index('public', 'job_applications', 'idx_job_applications_application',
                   'the application_id index is gone');
SET LOCAL enable_seqscan = off;
SELECT ok(pg_temp.plan_of($$SELECT * FROM job_applications WHERE application_id = '11111111-0000-0000-0000-000000000002'$$)
          LIKE '%Index Scan using job_applications_%_pkey%',
          'an application is found by id through the primary key');

SELECT * FROM finish();
ROLLBACK;
