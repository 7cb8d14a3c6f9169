-- tests/sql/21_progress_job_initial_status.sql
--      job_applications_inserted (sql/functions/job_applications_inserted.sql): one read of each
--      new application's history tells both whether the history could change it and whether its
--      initial status is recorded; the initial-status INSERT runs only for the rows that lack it,
--      so a statement of rows that all have it (cs-progress's, which writes its 'applied' rows
--      first) runs no INSERT and fires no history trigger. The rows are those of before.
BEGIN;
SELECT plan(9);

SET LOCAL track_functions = 'pl';
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000000b1');

CREATE FUNCTION pg_temp.apply_calls() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(pg_stat_get_xact_function_calls('job_status_history_apply'::regproc), 0)
$$;
CREATE FUNCTION pg_temp.rollup_calls() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(pg_stat_get_xact_function_calls('readiness_career_rollup_on_change'::regproc), 0)
$$;
CREATE TEMP TABLE calls_before AS SELECT pg_temp.apply_calls() AS n, pg_temp.rollup_calls() AS r;

-- cs-progress's shape: the 'applied' rows (and one later status) are in the history first, the
-- applications arrive folded (status and last_event_id from the history).
INSERT INTO job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
VALUES ('21000000-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e1', NULL, 'applied', '2026-01-01 10:00Z'),
       ('21000000-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e2', NULL, 'applied', '2026-01-01 11:00Z'),
       ('21000000-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e3', 'applied', 'screening', '2026-01-02 11:00Z');
-- two offers for the second: the row carries the newer one, as the fold gives it
INSERT INTO job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at, offer_salary)
VALUES ('21000000-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e8', 'screening', 'offer', '2026-01-03 11:00Z', 80000),
       ('21000000-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e9', 'offer', 'offer', '2026-01-04 11:00Z', 85000);
UPDATE calls_before SET n = pg_temp.apply_calls(), r = pg_temp.rollup_calls();
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id, offer_salary)
VALUES ('21000000-0000-0000-0000-000000000001', '2026-01-01 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e1', 'A', 'x', 'applied', '2026-01-01 10:00Z',
        '21000000-0000-0000-0000-0000000000e1', NULL),
       ('21000000-0000-0000-0000-000000000002', '2026-01-01 11:00Z', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e2', 'B', 'y', 'offer', '2026-01-04 11:00Z',
        '21000000-0000-0000-0000-0000000000e9', 85000);
SELECT is(pg_temp.apply_calls() - (SELECT n FROM calls_before), 0::bigint,
          'applications whose initial status is recorded run no initial-status INSERT (no history trigger)');
SELECT is(pg_temp.rollup_calls() - (SELECT r FROM calls_before), 1::bigint,
          'nor an UPDATE for an older offer salary the newer one replaced (only the INSERT''s roll-up runs)');
SELECT results_eq($$SELECT application_id::text, count(*)::int FROM job_application_status_history
                     WHERE application_id IN ('21000000-0000-0000-0000-000000000001', '21000000-0000-0000-0000-000000000002')
                     GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('21000000-0000-0000-0000-000000000001', 1), ('21000000-0000-0000-0000-000000000002', 4)$$,
                  'and no history row is added for them');

-- Another writer's statement: one application with its initial status recorded, one without
-- any history, one the history changes (a newer status arrived first).
INSERT INTO job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
VALUES ('21000000-0000-0000-0000-000000000005', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e7', 'applied', 'interviewing', '2026-01-05 10:00Z'),
       ('21000000-0000-0000-0000-000000000003', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e4', NULL, 'applied', '2026-01-03 10:00Z');
UPDATE calls_before SET n = pg_temp.apply_calls();
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id)
VALUES ('21000000-0000-0000-0000-000000000003', '2026-01-03 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e4', 'C', 'z', 'applied', '2026-01-03 10:00Z',
        '21000000-0000-0000-0000-0000000000e4'),
       ('21000000-0000-0000-0000-000000000004', '2026-01-04 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e5', 'D', 'w', 'applied', '2026-01-04 10:00Z',
        '21000000-0000-0000-0000-0000000000e5'),
       ('21000000-0000-0000-0000-000000000005', '2026-01-04 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e6', 'E', 'v', 'applied', '2026-01-04 10:00Z',
        '21000000-0000-0000-0000-0000000000e6');
SELECT is(pg_temp.apply_calls() - (SELECT n FROM calls_before), 1::bigint,
          'a statement with rows lacking their initial status runs the INSERT once');
SELECT results_eq($$SELECT event_id::text, to_status, changed_at FROM job_application_status_history
                     WHERE application_id = '21000000-0000-0000-0000-000000000004'$$,
                  $$VALUES ('21000000-0000-0000-0000-0000000000e5', 'applied'::text, '2026-01-04 10:00Z'::timestamptz)$$,
                  'the application without history gets its initial status');
SELECT is((SELECT count(*)::int FROM job_application_status_history
            WHERE application_id = '21000000-0000-0000-0000-000000000003'), 1,
          'the application with its initial status recorded gets no second row');
SELECT results_eq($$SELECT status, last_event_id::text FROM job_applications
                     WHERE application_id = '21000000-0000-0000-0000-000000000005'$$,
                  $$VALUES ('interviewing'::text, '21000000-0000-0000-0000-0000000000e7')$$,
                  'the application the history changes starts from the newer status');
SELECT is((SELECT count(*)::int FROM job_application_status_history
            WHERE application_id = '21000000-0000-0000-0000-000000000005'), 1,
          'and its initial status (the history''s own event) is not recorded twice');

-- An initial event recorded under another application: still not recorded again.
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title,
                              status, status_changed_at, last_event_id)
VALUES ('21000000-0000-0000-0000-000000000006', '2026-01-06 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000000b1',
        '21000000-0000-0000-0000-0000000000e5', 'F', 'u', 'applied', '2026-01-06 10:00Z',
        '21000000-0000-0000-0000-0000000000e5');
SELECT is((SELECT count(*)::int FROM job_application_status_history
            WHERE event_id = '21000000-0000-0000-0000-0000000000e5'), 1,
          'an event recorded for another application is not recorded again');

SELECT * FROM finish();
ROLLBACK;
