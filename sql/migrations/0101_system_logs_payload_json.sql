-- sql/migrations/0101_system_logs_payload_json.sql
--      system_logs.payload is json: kept byte for byte as cs-audit rendered it, validated as JSON,
--      no longer parsed into jsonb on every append.
--
-- cs-audit renders each payload as the exact text jsonb's output function prints
-- (cs_codec_payload_to_jsonb) and hashes that text into payload_sha256; the verifier hashes
-- payload::text in SQL. As jsonb, the COPY of every audit row parsed that text into jsonb's binary
-- form, and printing it back gave the same text. As json the server validates the text (its
-- lexer, no tree) and stores it as it came, so payload::text is still the hashed text: hashes,
-- hash_version and the verifier are unchanged, and rows written as jsonb convert to exactly
-- their jsonb text (USING payload::json). Measured in docs/audit.md ("What an event costs").
--
-- For readers: ->, ->> and the json functions work on json; jsonb operators, containment and
-- equality need a cast (payload::jsonb, which gives the same document). json has no equality
-- operator, so the redaction marker is compared as text (cs_audit_redaction_marker()::text, the
-- same bytes the jsonb comparison accepted: the worker and audit_redact_user write exactly that
-- text). No index, view or query of the log uses a jsonb operator on the payload.
--
-- The column is rewritten once (ALTER TYPE on the partitioned table rewrites every partition and
-- rebuilds its indexes; no row trigger fires). Statistics target 0 (0090) is kept.
-- requires: system_logs_append_only, audit_redact_user

ALTER TABLE system_logs ALTER COLUMN payload TYPE json USING payload::json;
COMMENT ON COLUMN system_logs.payload IS
    'The event''s payload as json, exactly the text cs-audit hashed into payload_sha256 (jsonb''s '
    'output text of the payload); {"redacted": true} after audit_redact_user. Cast to jsonb for '
    'jsonb operators and equality.';
