-- tests/sql/03_audit.sql
--      The audit log is append-only (UPDATE, DELETE, TRUNCATE refused on the table and on a
--      partition, even for the owner); the one exception is redaction through
--      audit_redact_user(), which keeps payload_sha256 and the hash chain intact. Chain heads
--      (0061) only move forward along rows of the log, for the audit role and the owner alike.
BEGIN;
SELECT plan(26);

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

-- Hash versions (0061): rows written without one are version 1.
SELECT has_column('system_logs', 'hash_version', 'system_logs has a hash_version');
SELECT is((SELECT DISTINCT hash_version FROM system_logs WHERE chain_key = 'cs.learning/0'), 1::smallint,
          'rows written without a hash version are version 1');

-- Chain heads move forward only, along rows of the log (chain cs.learning/0 holds seqs 1..3).
SELECT lives_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
    'INSERT INTO audit_chain_heads (chain_key, chain_seq, row_hash, last_offset) VALUES (''cs.learning/0'', 1, sha256(''row1''::bytea), 1)')$$,
    'cs_worker_audit inserts the head of a chain at one of its rows');
SELECT lives_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
    'UPDATE audit_chain_heads SET (chain_seq, row_hash, last_offset) = (3, sha256(''row3''::bytea), 3) WHERE chain_key = ''cs.learning/0''')$$,
    'cs_worker_audit moves a head forward along the log');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
    'UPDATE audit_chain_heads SET (chain_seq, row_hash, last_offset) = (2, sha256(''row2''::bytea), 2) WHERE chain_key = ''cs.learning/0''')$$,
    'CSA01', NULL, 'a head cannot go back, even to a row of the log');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
    'UPDATE audit_chain_heads SET row_hash = sha256(''forged''::bytea) WHERE chain_key = ''cs.learning/0''')$$,
    'CSA01', NULL, 'a head cannot name a hash that is not in the log');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL,
    'INSERT INTO audit_chain_heads (chain_key, chain_seq, row_hash, last_offset) VALUES (''cs.learning/9'', 4, sha256(''row4''::bytea), 4)')$$,
    'CSA01', NULL, 'a head cannot be inserted for rows that do not exist');
SELECT throws_ok($$SELECT tap.run_as('cs_worker_audit', NULL, 'DELETE FROM audit_chain_heads')$$,
    '42501', NULL, 'cs_worker_audit has no DELETE privilege on the heads');
SELECT throws_ok($$DELETE FROM audit_chain_heads$$, 'CSA01', NULL, 'not even the owner deletes a head');
SELECT tap.audit_row('bbbbbbbb-0000-0000-0000-00000000000b', now(), 5);
SELECT throws_ok($$UPDATE audit_chain_heads SET (chain_seq, row_hash, last_offset) = (5, sha256('row5'::bytea), 5) WHERE chain_key = 'cs.learning/0'$$,
    'CSA01', NULL, 'a head cannot skip a missing row (seq 4)');
SET LOCAL session_replication_role = replica;
SELECT throws_ok($$UPDATE audit_chain_heads SET (chain_seq, row_hash, last_offset) = (1, sha256('row1'::bytea), 1) WHERE chain_key = 'cs.learning/0'$$,
    'CSA01', NULL, 'session_replication_role = replica does not switch the heads'' guard off');
SET LOCAL session_replication_role = origin;
SELECT is((SELECT chain_seq FROM audit_chain_heads WHERE chain_key = 'cs.learning/0'), 3::bigint,
          'the head stayed at seq 3');

SELECT * FROM finish();
ROLLBACK;
