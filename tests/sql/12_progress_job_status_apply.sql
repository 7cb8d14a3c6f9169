-- tests/sql/12_progress_job_status_apply.sql
--      Migration 0058: history rows move their applications by key, the status changes they
--      make record no second history row, and a status changed by anyone else is still recorded.
BEGIN;
SELECT plan(7);

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a');
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id)
VALUES ('22222222-0000-0000-0000-000000000001', '2026-01-01 10:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '22222222-0000-0000-0000-0000000000e1', 'A', 'x', 'applied', '2026-01-01 10:00Z',
        '22222222-0000-0000-0000-0000000000e1'),
       ('22222222-0000-0000-0000-000000000002', '2026-01-01 11:00Z', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '22222222-0000-0000-0000-0000000000e2', 'B', 'y', 'applied', '2026-01-01 11:00Z',
        '22222222-0000-0000-0000-0000000000e2');

-- Two status events of the first application and an older one of the second, in one statement.
INSERT INTO job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at, interview_round)
VALUES ('22222222-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '22222222-0000-0000-0000-0000000000e3', 'applied', 'screening', '2026-01-02 10:00Z', NULL),
       ('22222222-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '22222222-0000-0000-0000-0000000000e4', 'screening', 'interviewing', '2026-01-03 10:00Z', 1),
       ('22222222-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-00000000000a',
        '22222222-0000-0000-0000-0000000000e5', NULL, 'applied', '2025-12-31 10:00Z', NULL);
SELECT results_eq($$SELECT application_id::text, status, last_event_id::text, interview_rounds::int FROM job_applications
                     WHERE application_id::text LIKE '22222222%' ORDER BY 1$$,
                  $$VALUES ('22222222-0000-0000-0000-000000000001', 'interviewing'::text, '22222222-0000-0000-0000-0000000000e4', 1),
                           ('22222222-0000-0000-0000-000000000002', 'applied', '22222222-0000-0000-0000-0000000000e2', 0)$$,
                  'the newest status moves its application, an older one does not');
SELECT results_eq($$SELECT event_id::text, to_status FROM job_application_status_history
                     WHERE application_id::text LIKE '22222222%' ORDER BY changed_at$$,
                  $$VALUES ('22222222-0000-0000-0000-0000000000e5', 'applied'::text),
                           ('22222222-0000-0000-0000-0000000000e1', 'applied'),
                           ('22222222-0000-0000-0000-0000000000e2', 'applied'),
                           ('22222222-0000-0000-0000-0000000000e3', 'screening'),
                           ('22222222-0000-0000-0000-0000000000e4', 'interviewing')$$,
                  'the change it applied records no second history row');
SELECT isnt(current_setting('cs.applying_job_history', true), 'on', 'the marker is put back after the statement');

-- A status changed by the apps (not from the history) is still recorded, with its event.
UPDATE job_applications SET status = 'offer', status_changed_at = '2026-01-05 10:00Z',
                            last_event_id = '22222222-0000-0000-0000-0000000000e6'
 WHERE application_id = '22222222-0000-0000-0000-000000000001';
SELECT results_eq($$SELECT from_status, to_status FROM job_application_status_history
                     WHERE event_id = '22222222-0000-0000-0000-0000000000e6'$$,
                  $$VALUES ('interviewing'::text, 'offer'::text)$$,
                  'a status changed by the apps is recorded');

-- Even inside a transaction that applied history before.
SELECT is(set_config('cs.applying_job_history', 'on', true), 'on', 'a transaction that applied history before');
UPDATE job_applications SET status = 'screening', last_event_id = NULL,
                            event_id = '22222222-0000-0000-0000-0000000000e7'
 WHERE application_id = '22222222-0000-0000-0000-000000000002';
SELECT is((SELECT count(*)::int FROM job_application_status_history
            WHERE event_id = '22222222-0000-0000-0000-0000000000e7' AND to_status = 'screening'), 1,
          'a change without an event id is always checked and recorded');
SELECT is((SELECT status FROM job_applications WHERE application_id = '22222222-0000-0000-0000-000000000002'),
          'screening', 'and applied');

SELECT * FROM finish();
ROLLBACK;
