-- tests/sql/06_partitions.sql
--      Partition routing: rows land in the partition of their time (or hash), rows far outside
--      the prepared range land in the DEFAULT partition instead of being rejected, and creating
--      the missing partition later moves them out of DEFAULT.
BEGIN;
SELECT plan(12);

INSERT INTO user_career_profiles (user_id) VALUES ('aaaaaaaa-0000-0000-0000-00000000000a');

INSERT INTO career_coaching_sessions (session_id, scheduled_at, user_id, event_id, session_type, delivery_mode)
VALUES ('55555555-0000-0000-0000-000000000001', now(), 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'check_in', 'chat'),
       ('55555555-0000-0000-0000-000000000002', '2099-06-15 10:00+00', 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'check_in', 'chat'),
       ('55555555-0000-0000-0000-000000000003', '1999-01-01 10:00+00', 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'check_in', 'chat');
SELECT is((SELECT tableoid::regclass::text FROM career_coaching_sessions WHERE session_id = '55555555-0000-0000-0000-000000000001'),
          'career_coaching_sessions_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYY"m"MM'),
          'a session this month lands in this month''s partition');
SELECT is((SELECT array_agg(tableoid::regclass::text ORDER BY session_id) FROM career_coaching_sessions
            WHERE session_id IN ('55555555-0000-0000-0000-000000000002', '55555555-0000-0000-0000-000000000003')),
          ARRAY['career_coaching_sessions_default', 'career_coaching_sessions_default'],
          'sessions in 2099 and 1999 are kept in the DEFAULT partition, not rejected');

INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title)
VALUES ('88888888-0000-0000-0000-000000000001', now(), 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'A', 'Dev'),
       ('88888888-0000-0000-0000-000000000002', '2150-02-01 00:00+00', 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), 'B', 'Dev');
SELECT is((SELECT tableoid::regclass::text FROM job_applications WHERE application_id = '88888888-0000-0000-0000-000000000001'),
          'job_applications_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYY"q"Q'), 'an application lands in its quarter');
SELECT is((SELECT tableoid::regclass::text FROM job_applications WHERE application_id = '88888888-0000-0000-0000-000000000002'),
          'job_applications_default', 'an application in 2150 lands in DEFAULT');

SELECT tap.audit_row('aaaaaaaa-0000-0000-0000-00000000000a', now(), 1);
SELECT tap.audit_row('aaaaaaaa-0000-0000-0000-00000000000a', '2300-01-01 00:00+00', 2);
SELECT is((SELECT tableoid::regclass::text FROM system_logs WHERE chain_seq = 1),
          'system_logs_p' || to_char(now() AT TIME ZONE 'UTC', 'IYYY"w"IW'), 'an audit row lands in this week''s partition');
SELECT is((SELECT tableoid::regclass::text FROM system_logs WHERE chain_seq = 2), 'system_logs_default',
          'an audit row stamped in 2300 lands in DEFAULT');

-- Creating the missing partition moves the rows out of DEFAULT (audit guard intact).
SELECT ok(cs_partition_create('system_logs', 'week', '2300-01-01 00:00+00'), 'cs_partition_create makes the 2300 week');
SELECT is((SELECT tableoid::regclass::text FROM system_logs WHERE chain_seq = 2), 'system_logs_p2300w01',
          'the 2300 row moved into its new partition (ISO week 2300-W01)');
SELECT throws_ok($$TRUNCATE system_logs_p2300w01$$, 'CS002', NULL, 'the new audit partition carries the TRUNCATE guard');
SELECT cs_partition_create('career_coaching_sessions', 'month', '2099-06-15 10:00+00');
SELECT is((SELECT tableoid::regclass::text FROM career_coaching_sessions WHERE session_id = '55555555-0000-0000-0000-000000000002'),
          'career_coaching_sessions_p2099m06', 'the same works for coaching sessions');

SELECT cmp_ok(cs_partition_maintain(now() + interval '10 years'), '>', 0, 'cs_partition_maintain prepares partitions ahead');

-- Hash partitions: a learner's rows all live in one of 8 partitions.
INSERT INTO user_progress (user_id, content_id, event_id, last_event_at)
SELECT 'aaaaaaaa-0000-0000-0000-00000000000a', gen_random_uuid(), gen_random_uuid(), now() FROM generate_series(1, 20);
SELECT is((SELECT count(DISTINCT tableoid)::int FROM user_progress WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'), 1,
          'a learner''s progress rows share one hash partition');

SELECT * FROM finish();
ROLLBACK;
