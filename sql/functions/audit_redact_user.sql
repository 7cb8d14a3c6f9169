-- sql/functions/audit_redact_user.sql
--      Replaces a learner's audit payloads with the redaction marker (GDPR).
--
-- depends: cs_audit_redaction_marker

-- Replaces the payload of every audit row of a learner with the redaction marker. The hash
-- chain covers payload_sha256, not the payload, so it still verifies. Returns rows redacted.
-- payload is json (0101), which has no equality: the marker is compared as text, the text the
-- assignment stores.
CREATE OR REPLACE FUNCTION audit_redact_user(p_user_id uuid) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE public.system_logs
       SET payload = public.cs_audit_redaction_marker()
     WHERE user_id = p_user_id AND payload::text <> public.cs_audit_redaction_marker()::text;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

REVOKE EXECUTE ON FUNCTION audit_redact_user(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_redact_user(uuid) TO cs_app_admin;
