-- tests/sql/33_system_logs_payload_json.sql
--      Migration 0101: system_logs.payload is json, stored byte for byte as written (the text
--      cs-audit hashed into payload_sha256), still validated as JSON, statistics target still 0.
--      Redaction and the append-only guard compare the redaction marker as text: exactly the
--      marker's bytes are accepted, and audit_redact_user writes them.
BEGIN;
SELECT plan(12);

SELECT col_type_is('system_logs', 'payload', 'json', 'system_logs.payload is json');
SELECT is((SELECT attstattarget FROM pg_attribute WHERE attrelid = 'system_logs'::regclass AND attname = 'payload'),
          0, 'the payload keeps statistics target 0 (0090) through the type change');

-- Stored as written: jsonb would reorder the keys (shorter first) and drop the duplicate.
INSERT INTO system_logs (event_id, event_type, user_id, occurred_at, source_topic, source_partition, source_offset,
                         producer, payload, payload_sha256, chain_key, chain_seq, row_hash)
VALUES ('cccccccc-0000-0000-0000-000000000001', 'lesson_completed', 'cccccccc-0000-0000-0000-00000000000c', now(),
        'cs.learning', 7, 1, 'tap', '{"zz": 1, "a": [1.50, "\u00e9"], "zz": 2}',
        sha256(convert_to('{"zz": 1, "a": [1.50, "\u00e9"], "zz": 2}', 'UTF8')), 'cs.learning/7', 1, sha256('r1'::bytea));
SELECT is((SELECT payload::text FROM system_logs WHERE chain_key = 'cs.learning/7'),
          '{"zz": 1, "a": [1.50, "\u00e9"], "zz": 2}', 'the payload is kept byte for byte as written');
SELECT ok((SELECT sha256(convert_to(payload::text, 'UTF8')) = payload_sha256 FROM system_logs WHERE chain_key = 'cs.learning/7'),
          'the verifier''s payload hash (sha256 of payload::text) is the hash of the written text');
SELECT is((SELECT payload::jsonb FROM system_logs WHERE chain_key = 'cs.learning/7'),
          '{"a": [1.50, "\u00e9"], "zz": 2}'::jsonb, 'cast to jsonb, it is the same document');
SELECT is((SELECT payload->>'zz' FROM system_logs WHERE chain_key = 'cs.learning/7'), '2', '->> works on the json payload');
SELECT throws_ok($$INSERT INTO system_logs (event_id, event_type, occurred_at, source_topic, source_partition, source_offset,
                                            producer, payload, payload_sha256, chain_key, chain_seq, row_hash)
                   VALUES (gen_random_uuid(), 'x', now(), 'cs.learning', 8, 1, 'tap', '{"a": ', sha256('x'::bytea),
                           'cs.learning/8', 1, sha256('r'::bytea))$$,
                 '22P02', NULL, 'a payload that is not JSON is refused');

-- Redaction: the marker's exact text, through audit_redact_user only.
SELECT throws_ok($$UPDATE system_logs SET payload = '{"redacted":true}' WHERE chain_key = 'cs.learning/7'$$, 'CS002', NULL,
                 'the marker spelt another way is refused: the guard compares the exact text');
SELECT lives_ok($$UPDATE system_logs SET payload = '{"redacted": true}' WHERE chain_key = 'cs.learning/7'$$,
                'the marker''s exact text is the one change the guard accepts');
SELECT is(audit_redact_user('cccccccc-0000-0000-0000-00000000000c'), 0::bigint,
          'a payload already the marker is not redacted again (compared as text)');
SELECT tap.audit_row('dddddddd-0000-0000-0000-00000000000d', now(), 1);
SELECT is(audit_redact_user('dddddddd-0000-0000-0000-00000000000d'), 1::bigint, 'audit_redact_user redacts a json payload');
SELECT is((SELECT payload::text FROM system_logs WHERE user_id = 'dddddddd-0000-0000-0000-00000000000d'),
          cs_audit_redaction_marker()::text, 'and stores exactly the marker''s text');

SELECT * FROM finish();
ROLLBACK;
