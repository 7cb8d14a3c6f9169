-- tests/sql/03_audit.sql
--      The audit log is append-only (UPDATE, DELETE, TRUNCATE refused on the table and on a
--      partition, even for the owner); the one exception is redaction through
--      audit_redact_user(), which keeps payload_sha256 and the hash chain intact.
BEGIN;
SELECT plan(14);

SELECT tap.audit_row('aaaaaaaa-0000-0000-0000-00000000000a', now(), 1);
SELECT tap.audit_row('aaaaaaaa-0000-0000-0000-00000000000a', now(), 2);
SELECT tap.audit_row('bbbbbbbb-0000-0000-0000-00000000000b', now(), 3);

SELECT throws_ok($$UPDATE system_logs SET event_type = 'forged'$$, 'CS002', NULL, 'UPDATE of the audit log is refused');
SELECT throws_ok($$UPDATE system_logs SET payload = '{"redacted": true}', row_hash = sha256('x'::bytea)$$, 'CS002', NULL,
                 'a "redaction" that also touches the chain is refused');
SELECT throws_ok($$UPDATE system_logs SET payload = '{"note": "rewritten"}'$$, 'CS002', NULL,
                 'replacing a payload with anything but the redaction marker is refused');
SELECT throws_ok($$DELETE FROM system_logs$$, 'CS002', NULL, 'DELETE from the audit log is refused');
SELECT throws_ok($$TRUNCATE system_logs$$, 'CS002', NULL, 'TRUNCATE of the audit log is refused');
SELECT tableoid::regclass AS part FROM system_logs LIMIT 1 \gset
SELECT throws_ok('TRUNCATE ' || :'part', 'CS002', NULL, 'TRUNCATE of a single audit partition is refused');
SELECT throws_ok('DELETE FROM ' || :'part', 'CS002', NULL, 'DELETE on a single audit partition is refused');

-- The audit worker appends but cannot change history.
SELECT lives_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
    'INSERT INTO system_logs (event_id, event_type, occurred_at, source_topic, source_partition, source_offset, producer,
                              payload, payload_sha256, chain_key, chain_seq, row_hash)
     VALUES (gen_random_uuid(), ''x'', now(), ''cs.learning'', 1, 9, ''tap'', ''{}'', sha256(''{}''::bytea), ''cs.learning/1'', 1, sha256(''r''::bytea))')$$,
    'cs_worker_audit inserts into system_logs');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'UPDATE system_logs SET producer = ''x''')$$,
                 '42501', NULL, 'cs_worker_audit has no UPDATE privilege');

-- Redaction keeps the chain.
CREATE TEMP TABLE before_redaction ON COMMIT DROP AS
    SELECT log_id, payload_sha256, prev_hash, row_hash, chain_seq FROM system_logs;
SELECT is(audit_redact_user('aaaaaaaa-0000-0000-0000-00000000000a'), 2::bigint, 'audit_redact_user redacts the learner''s two rows');
SELECT is(ARRAY(SELECT DISTINCT payload::text FROM system_logs WHERE user_id = 'aaaaaaaa-0000-0000-0000-00000000000a'),
          ARRAY['{"redacted": true}'], 'their payloads are the redaction marker');
SELECT is((SELECT count(*)::int FROM system_logs s JOIN before_redaction b USING (log_id)
            WHERE s.payload_sha256 = b.payload_sha256 AND s.row_hash = b.row_hash
              AND s.prev_hash IS NOT DISTINCT FROM b.prev_hash AND s.chain_seq = b.chain_seq), 4,
          'payload_sha256, prev_hash, row_hash and chain_seq are unchanged for every row');
SELECT is((SELECT payload::text FROM system_logs WHERE user_id = 'bbbbbbbb-0000-0000-0000-00000000000b'),
          '{"note": "free text"}', 'other learners'' payloads are untouched');
SELECT is(audit_redact_user('aaaaaaaa-0000-0000-0000-00000000000a'), 0::bigint, 'redacting again changes nothing');

SELECT * FROM finish();
ROLLBACK;
