-- sql/functions/system_logs_append_only.sql
--      Trigger: the audit log is append-only (SQLSTATE CS002).
--
-- Attached by 0020_triggers.sql (and copied onto every partition by cs_partition_create).
--
-- depends: cs_audit_redaction_marker

-- The audit log is append-only. The single permitted change is the redaction of a payload:
-- every column but payload unchanged (payload_sha256 and the hash chain included) and the new
-- payload exactly the redaction marker, byte for byte (payload is json since 0101: compared as
-- text). The guard checks the shape of the change, not who makes it, so not even the table owner
-- can alter the chain.
CREATE OR REPLACE FUNCTION system_logs_append_only() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.payload::text = public.cs_audit_redaction_marker()::text
       AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'system_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'CS002',
              HINT = 'Only audit_redact_user() may replace a payload with the redaction marker; retire old partitions with DROP TABLE.';
END
$$;
