-- tests/sql/23_outbox_queue.sql
--      Migration 0084: outbox_events checks a worker role's consumer groups once per statement
--      (worker_own_groups_inserted over the transition table) instead of once per row; the rule
--      and the message are 0065's; autovacuum keeps up with a queue table.
BEGIN;
SELECT plan(9);

-- No row trigger fires on INSERT any more: one statement trigger does, with a transition table.
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox_events'::regclass
            AND NOT tgisinternal AND tgtype & 1 = 1 AND tgtype & 4 = 4), 0::bigint,
          'no row-level INSERT trigger on outbox_events');
SELECT is((SELECT tgnewtable::text FROM pg_trigger WHERE tgrelid = 'outbox_events'::regclass
            AND tgname = 'trg_outbox_events_own_group_inserted' AND tgtype & 1 = 0 AND tgtype & 4 = 4),
          'inserted', 'a statement-level INSERT trigger over the inserted rows');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox_events'::regclass
            AND tgname = 'trg_outbox_events_own_group' AND tgtype & 1 = 1 AND tgtype & 16 = 16
            AND tgattr::text <> ''), 1::bigint, 'UPDATE OF consumer_group keeps its row trigger');

-- A worker role writes several rows of its own group in one statement.
SELECT is(tap.run_as('cs_worker_readiness', NULL,
                     $$INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                       SELECT 'cs-readiness', gen_random_uuid(), 'x', 't', 'k', '\x00', 'f' FROM generate_series(1, 3)$$),
          3::bigint, 'cs_worker_readiness writes three outbox rows of cs-readiness in one statement');
-- One row of another group among its own refuses the whole statement, naming that group.
SELECT throws_ok($$SELECT tap.run_as('cs_worker_readiness', NULL,
                     'INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                      SELECT g, gen_random_uuid(), ''x'', ''t'', ''k'', ''\x00'', ''f''
                        FROM unnest(ARRAY[''cs-readiness'', ''cs-progress'', ''cs-readiness'']) g')$$,
                 '42501', 'role cs_worker_readiness may not write outbox rows of consumer group cs-progress',
                 'a statement with a row of cs-progress is refused');
SELECT is((SELECT count(*) FROM outbox_events), 3::bigint, 'the refused statement wrote nothing');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_readiness', NULL,
                     'INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                      VALUES (''cs-audit'', gen_random_uuid(), ''x'', ''t'', ''k'', ''\x00'', ''f'')')$$,
                 '42501', 'role cs_worker_readiness may not write outbox rows of consumer group cs-audit',
                 'a single row of cs-audit is refused');
-- The superuser (the migrator, maintenance) is not restricted.
SELECT lives_ok($$INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                  VALUES ('cs-progress', gen_random_uuid(), 'x', 't', 'k', '\x00', 'f')$$,
                'the superuser writes a row of any group');

SELECT ok((SELECT reloptions @> ARRAY['autovacuum_vacuum_scale_factor=0', 'autovacuum_vacuum_threshold=5000']
             FROM pg_class WHERE oid = 'outbox_events'::regclass),
          'autovacuum: a fixed threshold of dead rows');

SELECT * FROM finish();
ROLLBACK;
