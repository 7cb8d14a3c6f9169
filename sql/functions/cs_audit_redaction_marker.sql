-- sql/functions/cs_audit_redaction_marker.sql
--      The payload that replaces a redacted audit payload.

-- The payload that replaces a redacted one; the guard accepts exactly this shape.
CREATE OR REPLACE FUNCTION cs_audit_redaction_marker() RETURNS jsonb
    LANGUAGE sql IMMUTABLE
AS $$ SELECT '{"redacted": true}'::jsonb $$;
