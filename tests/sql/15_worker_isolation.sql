-- tests/sql/15_worker_isolation.sql
--      Issue 14: each worker role sees and changes the runtime bookkeeping (consumer_offsets,
--      processed_events, dead_letters) of its own consumer groups only (worker_roles, 0064):
--      cs_worker_audit owns 'cs-audit' and its replay groups 'cs-audit-replay-<job>', not
--      cs-progress's groups; the runtime's own statements still work for the owner of a group.
--      Issue 16: processed_events is keyed by effect scope (the worker: 'progress', 'audit',
--      worker_scopes, 0066) and isolated by scope; the row names the group that wrote it.
BEGIN;
SELECT plan(50);

-- Bookkeeping of cs-progress (P), cs-audit (A) and an audit replay group (R), as the superuser.
INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES
    ('cs-progress', 'cs.learning', 0, 100), ('cs-progress', 'cs.learning', 1, 200),
    ('cs-audit', 'cs.learning', 0, 50), ('cs-audit-replay-job1', 'cs.learning', 0, 7),
    ('cs-auditor', 'cs.learning', 0, 9);
INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, kafka_partition, kafka_offset) VALUES
    ('progress', 'cs-progress', '11111111-0000-0000-0000-000000000001', 'cs.learning', 0, 1),
    ('progress', 'cs-progress', '11111111-0000-0000-0000-000000000002', 'cs.learning', 0, 2),
    ('audit', 'cs-audit', '22222222-0000-0000-0000-000000000001', 'cs.learning', 0, 1);
INSERT INTO dead_letters (consumer_group, worker, topic, kafka_partition, kafka_offset, dlq_topic, error_class,
                          reason, attempt, msg_key, payload) VALUES
    ('cs-progress', 'cs-progress', 'cs.learning', 0, 3, 'cs.learning.dlq', 'validation', 'bad', 1,
     'learner-p', 'secret progress payload'),
    ('cs-audit', 'cs-audit', 'cs.learning', 0, 4, 'cs.learning.dlq', 'decode', 'bad', 1, 'learner-a', 'audit payload');

-- consumer_offsets
SELECT is(tap.run_as('cs_worker_audit', NULL, 'SELECT * FROM consumer_offsets'), 2::bigint,
          'cs_worker_audit sees the offsets of cs-audit and its replay group only');
SELECT is(tap.run_as('cs_worker_audit', NULL, $$SELECT * FROM consumer_offsets WHERE consumer_group = 'cs-progress'$$),
          0::bigint, 'cs_worker_audit does not see cs-progress''s offsets');
SELECT is(tap.run_as('cs_worker_audit', NULL, $$SELECT * FROM consumer_offsets WHERE consumer_group = 'cs-auditor'$$),
          0::bigint, '... nor those of a group that merely starts with its prefix (cs-auditor)');
SELECT is(tap.run_as('cs_worker_audit', NULL,
                     $$UPDATE consumer_offsets SET next_offset = 0 WHERE consumer_group = 'cs-progress'$$), 0::bigint,
          'cs_worker_audit cannot move cs-progress''s offsets');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'DELETE FROM consumer_offsets')$$,
                 '42501', NULL, 'no worker role deletes offsets (no grant)');
SELECT is((SELECT array_agg(next_offset ORDER BY kafka_partition) FROM consumer_offsets WHERE consumer_group = 'cs-progress'),
          '{100,200}'::bigint[], 'cs-progress''s offsets are unchanged');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset)
                      VALUES (''cs-progress'', ''cs.learning'', 5, 0)')$$,
                 '42501', NULL, 'cs_worker_audit cannot create an offset row for cs-progress');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'UPDATE consumer_offsets SET consumer_group = ''cs-progress'', kafka_partition = 9
                       WHERE consumer_group = ''cs-audit''')$$,
                 '42501', NULL, 'cs_worker_audit cannot move its own row into cs-progress''s group');
SELECT is(tap.run_as('cs_worker_audit', NULL,
                     $$UPDATE consumer_offsets SET next_offset = 51 WHERE consumer_group = 'cs-audit'$$), 1::bigint,
          'cs_worker_audit moves its own offset');
SELECT is(tap.run_as('cs_worker_audit', NULL,
                     $$UPDATE consumer_offsets SET next_offset = 8 WHERE consumer_group = 'cs-audit-replay-job1'$$),
          1::bigint, '... and its replay group''s');
SELECT is(tap.run_as('cs_worker_progress', NULL, 'SELECT * FROM consumer_offsets'), 2::bigint,
          'cs_worker_progress sees its own two offsets');
SELECT is(tap.run_as('cs_worker_readiness', NULL, 'SELECT * FROM consumer_offsets'), 0::bigint,
          'cs_worker_readiness sees none of them');

-- The runtime's offsets compare-and-set (libcore/src/worker.c OFFSETS_CAS_SQL) for its own group:
-- one partition moved from its expected offset, one created.
PREPARE cas(text, text[], int[], bigint[], bigint[]) AS
    WITH v AS (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS v(topic, kp, expected, next)),
    u AS (UPDATE consumer_offsets o SET next_offset = v.next, updated_at = now() FROM v
           WHERE v.expected >= 0 AND o.consumer_group = $1 AND o.topic = v.topic
             AND o.kafka_partition = v.kp AND o.next_offset = v.expected RETURNING 1),
    i AS (INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset)
          SELECT $1, topic, kp, next FROM v WHERE expected < 0 ON CONFLICT DO NOTHING RETURNING 1)
    SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i) AS moved;
SET LOCAL ROLE cs_worker_audit;
EXECUTE cas('cs-audit', '{cs.learning,cs.learning}', '{0,1}', '{51,-1}', '{60,3}') \gset own_
EXECUTE cas('cs-progress', '{cs.learning,cs.learning}', '{0,1}', '{100,200}', '{0,0}') \gset other_
RESET ROLE;
SELECT is(:'own_moved'::text, '2', 'the runtime''s offsets compare-and-set works as cs_worker_audit on its own group');
SELECT is(:'other_moved'::text, '0', '... and moves nothing of cs-progress (fenced, as if another consumer owned it)');
SELECT is((SELECT array_agg(next_offset ORDER BY consumer_group, kafka_partition) FROM consumer_offsets
            WHERE consumer_group IN ('cs-audit', 'cs-progress')), '{60,3,100,200}'::bigint[],
          'offsets after both: cs-audit moved and created, cs-progress untouched');

-- processed_events
SELECT is(tap.run_as('cs_worker_audit', NULL, 'SELECT * FROM processed_events'), 1::bigint,
          'cs_worker_audit sees its own processed event id only');
SELECT is(tap.run_as('cs_worker_audit', NULL, $$DELETE FROM processed_events WHERE effect_scope = 'progress'$$),
          0::bigint, 'cs_worker_audit cannot delete cs-progress''s processed ids (they would apply twice)');
SELECT is(tap.run_as('cs_worker_audit', NULL, $$SELECT cs_prune_processed_events('-1 day')$$), 1::bigint,
          'cs_prune_processed_events as cs_worker_audit ...');
SELECT is((SELECT count(*) FROM processed_events WHERE consumer_group = 'cs-progress'), 2::bigint,
          '... prunes nothing of cs-progress');
SELECT is((SELECT count(*) FROM processed_events WHERE consumer_group = 'cs-audit'), 0::bigint,
          '... only its own ids');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, kafka_partition, kafka_offset)
                      VALUES (''progress'', ''cs-progress'', ''11111111-0000-0000-0000-000000000009'', ''cs.learning'', 0, 9)')$$,
                 '42501', NULL, 'cs_worker_audit cannot mark an event processed for cs-progress (it would be skipped)');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, kafka_partition, kafka_offset)
                      VALUES (''progress'', ''cs-audit'', ''11111111-0000-0000-0000-000000000009'', ''cs.learning'', 0, 9)')$$,
                 '42501', NULL, '... not even under its own group (the scope is cs-progress''s)');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, kafka_partition, kafka_offset)
                      VALUES (''audit'', ''cs-progress'', ''22222222-0000-0000-0000-000000000009'', ''cs.learning'', 0, 9)')$$,
                 '42501', NULL, 'cs_worker_audit cannot write its scope''s rows under a group it does not own');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'UPDATE processed_events SET outcome = ''s''')$$,
                 '42501', NULL, 'no worker role updates processed ids (no grant)');
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$INSERT INTO processed_events (effect_scope, consumer_group, event_id, outcome, topic, kafka_partition, kafka_offset)
                       SELECT 'progress', 'cs-progress', e, 'a', 'cs.learning', 0, 5
                         FROM unnest('{11111111-0000-0000-0000-000000000002,11111111-0000-0000-0000-000000000003}'::uuid[]) e
                       ON CONFLICT DO NOTHING RETURNING event_id$$), 1::bigint,
          'cs_worker_progress marks its ids with the runtime''s INSERT ... ON CONFLICT DO NOTHING (one new, one known)');
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$DELETE FROM processed_events WHERE effect_scope = 'progress'
                          AND event_id = ANY('{11111111-0000-0000-0000-000000000003}'::uuid[])$$), 1::bigint,
          'cs_worker_progress forgets its own dead-lettered id (the runtime''s DELETE)');
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$SELECT 'd', p.event_id::text FROM processed_events p
                        WHERE p.effect_scope = 'progress' AND p.event_id = ANY('{11111111-0000-0000-0000-000000000001}'::uuid[])$$),
          1::bigint, 'cs_worker_progress reads its own ids (the runtime''s pre-check)');
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, kafka_partition, kafka_offset)
                       VALUES ('progress', 'cs-progress-replay-j7', '11111111-0000-0000-0000-000000000001', 'cs.learning', 0, 1)
                       ON CONFLICT DO NOTHING RETURNING 1$$),
          0::bigint, 'an id the live group applied is a duplicate for its replay group (one ledger per scope)');
SELECT is(tap.run_as('cs_worker_progress', NULL,
                     $$INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, kafka_partition, kafka_offset)
                       VALUES ('progress', 'cs-progress-replay-j7', '11111111-0000-0000-0000-000000000004', 'cs.learning', 0, 4)$$),
          1::bigint, 'cs_worker_progress marks ids from its replay group');
SELECT is((SELECT consumer_group FROM processed_events WHERE event_id = '11111111-0000-0000-0000-000000000004'),
          'cs-progress-replay-j7', '... and the row names the group that applied it');
SELECT is((SELECT array_agg(effect_scope ORDER BY effect_scope) FROM worker_scopes
            WHERE role IN ('cs_worker_progress', 'cs_worker_audit')), '{audit,progress}'::text[],
          'worker_scopes maps the default workers'' scopes to their roles');

-- dead_letters
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'SELECT * FROM dead_letters')$$,
                 '42501', NULL, 'cs_worker_audit cannot read the dead_letters table (every group''s payloads)');
SELECT is(tap.run_as('cs_worker_audit', NULL, 'SELECT * FROM worker_dead_letters'), 1::bigint,
          'cs_worker_audit reads its own dead letter through worker_dead_letters');
SELECT is(tap.run_as('cs_worker_audit', NULL,
                     $$SELECT * FROM worker_dead_letters WHERE convert_from(payload, 'UTF8') LIKE '%progress%'$$),
          0::bigint, '... and no other group''s payload');
SELECT is(tap.run_as('cs_worker_progress', NULL, 'SELECT * FROM worker_dead_letters'), 1::bigint,
          'cs_worker_progress reads its own dead letter');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'INSERT INTO dead_letters (consumer_group, worker, topic, kafka_partition, kafka_offset, dlq_topic,
                                                error_class, reason, attempt)
                      VALUES (''cs-progress'', ''cs-progress'', ''cs.learning'', 0, 99, ''cs.learning.dlq'', ''decode'', ''x'', 1)')$$,
                 '42501', 'role cs_worker_audit may not record dead letters of consumer group cs-progress',
                 'cs_worker_audit cannot record a dead letter for cs-progress');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
                     'INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
                      VALUES (''cs-progress'', gen_random_uuid(), ''x'', ''cs.learning'', ''k'', ''\x00'', ''f'')')$$,
                 '42501', 'role cs_worker_audit may not write outbox rows of consumer group cs-progress',
                 'cs_worker_audit cannot write an outbox row for cs-progress');
SELECT is(tap.run_as('cs_worker_audit', NULL,
                     $$INSERT INTO dead_letters (consumer_group, worker, topic, kafka_partition, kafka_offset, dlq_topic,
                                                error_class, reason, attempt)
                       VALUES ('cs-audit-replay-job1', 'cs-audit', 'cs.learning', 0, 99, 'cs.learning.dlq', 'decode', 'x', 1)$$),
          1::bigint, 'cs_worker_audit records a dead letter of its replay group');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'DELETE FROM dead_letters')$$,
                 '42501', NULL, 'no worker role deletes dead letters');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'UPDATE dead_letters SET reason = ''x''')$$,
                 '42501', NULL, 'no worker role updates dead letters');
SELECT is((SELECT count(*) FROM dead_letters), 3::bigint, 'the superuser sees every group''s dead letters');

-- A login role granted a worker role owns that role's groups; other roles own none.
SELECT 'tap_login_' || pg_backend_pid() AS login_role \gset
CREATE ROLE :"login_role" NOLOGIN IN ROLE cs_worker_audit;
SELECT is(tap.run_as(:'login_role', NULL, 'SELECT * FROM consumer_offsets'), 3::bigint,
          'a role granted cs_worker_audit sees cs-audit''s offsets');
SELECT is(tap.run_as(:'login_role', NULL, $$UPDATE consumer_offsets SET next_offset = 0 WHERE consumer_group = 'cs-progress'$$),
          0::bigint, '... and cannot move cs-progress''s');
SELECT is(tap.run_as(:'login_role', NULL, $$SELECT * FROM worker_dead_letters$$),
          2::bigint, '... and reads cs-audit''s dead letters (its own and its replay group''s)');
SELECT throws_ok($$SELECT tap.run_as('cs_app_admin', NULL, 'SELECT * FROM consumer_offsets')$$,
                 '42501', NULL, 'app roles have no access to the runtime''s tables');

-- The mapping: a group belongs to one role.
SELECT throws_ok($$INSERT INTO worker_roles (role, group_prefix) VALUES ('cs_worker_progress', 'cs-audit-replay')$$,
                 '23505', NULL, 'a prefix inside another role''s groups is refused');
SELECT throws_ok($$INSERT INTO worker_roles (role, group_prefix) VALUES ('cs_worker_progress', 'cs')$$,
                 '23505', NULL, 'a prefix covering another role''s groups is refused');
SELECT lives_ok($$INSERT INTO worker_roles (role, group_prefix) VALUES ('cs_worker_progress', 'progress_eu.v2')$$,
                'another prefix of the same kind is accepted');
SELECT is(tap.run_as('cs_worker_progress', NULL, $$SELECT * FROM consumer_offsets WHERE consumer_group = 'progressXeu.v2'$$),
          0::bigint, 'LIKE wildcards in a prefix are taken literally (progress_eu.v2 does not own progressXeu.v2)');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'DELETE FROM worker_roles')$$,
                 '42501', NULL, 'worker roles cannot change the mapping');

SELECT * FROM finish();
ROLLBACK;
