-- tests/sql/37_outbox_group_check_per_statement.sql
--      worker_own_groups_inserted (outbox_events' statement check of a worker role's consumer
--      groups) reads the role's patterns once per statement, not once per inserted row: with
--      cs_worker_owns_group(d.g) under the DISTINCT, the planner pushed the call below it and a
--      drain of cs-readiness as its role spent 13.5 s of 17 s of PostgreSQL CPU there (session 16).
--      The check itself (own rows pass, another group's row refuses the statement): 23_outbox_queue.
BEGIN;
SELECT plan(4);

-- Every call of a function counts (SQL functions too; superuser only, before the role is set).
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE tap_calls AS
    SELECT coalesce(pg_stat_get_xact_function_calls('cs_worker_group_patterns'::regproc), 0) AS n;

SELECT is(tap.run_as('cs_worker_readiness', NULL,
                     $$INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                       SELECT 'cs-readiness', gen_random_uuid(), 'x', 't', 'k', '\x00', 'f' FROM generate_series(1, 500)$$),
          500::bigint, 'cs_worker_readiness writes 500 outbox rows of its group in one statement');
SELECT cmp_ok(coalesce(pg_stat_get_xact_function_calls('cs_worker_group_patterns'::regproc), 0)
              - (SELECT n FROM tap_calls), '<=', 2::bigint,
              'the role''s group patterns were read once for the statement, not once per row');

-- Still refused: a row of another group among 500 of its own, naming that group.
SELECT throws_ok($$SELECT tap.run_as('cs_worker_readiness', NULL,
                     'INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                      SELECT CASE WHEN i = 250 THEN ''cs-progress'' ELSE ''cs-readiness'' END, gen_random_uuid(),
                             ''x'', ''t'', ''k'', ''\x00'', ''f''
                        FROM generate_series(1, 500) i')$$,
                 '42501', 'role cs_worker_readiness may not write outbox rows of consumer group cs-progress',
                 'one row of cs-progress among 500 refuses the statement');
-- A group under the role's prefix ('cs-readiness-<anything>': a replay's) passes.
SELECT is(tap.run_as('cs_worker_readiness', NULL,
                     $$INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                       SELECT 'cs-readiness-replay-7', gen_random_uuid(), 'x', 't', 'k', '\x00', 'f' FROM generate_series(1, 20)$$),
          20::bigint, 'rows of a group under the role''s prefix pass');

SELECT * FROM finish();
ROLLBACK;
