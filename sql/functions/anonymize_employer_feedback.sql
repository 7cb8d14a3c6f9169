-- sql/functions/anonymize_employer_feedback.sql
--      Anonymises employer feedback of one graduate, or all of it past retention.

-- Anonymises employer feedback: of one graduate (p_user_id), or everything submitted before
-- p_submitted_before (retention). Ratings and curriculum suggestions stay for analytics; the
-- graduate link, the employer contact and free-text comments go. Returns rows anonymised.
CREATE OR REPLACE FUNCTION anonymize_employer_feedback(p_user_id uuid DEFAULT NULL, p_submitted_before timestamptz DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF p_user_id IS NULL AND p_submitted_before IS NULL THEN
        RAISE EXCEPTION 'anonymize_employer_feedback needs a user or a cut-off time'
            USING ERRCODE = '22023';
    END IF;
    UPDATE public.employer_feedback f
       SET user_id = NULL,
           employer_contact_name = NULL,
           employer_contact_email = NULL,
           comments = NULL,
           employer_name = CASE WHEN f.consent_to_publish THEN f.employer_name END,
           anonymized_at = now()
     WHERE f.anonymized_at IS NULL
       AND (p_user_id IS NULL OR f.user_id = p_user_id)
       AND (p_submitted_before IS NULL OR f.submitted_at < p_submitted_before);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

REVOKE EXECUTE ON FUNCTION anonymize_employer_feedback(uuid,timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anonymize_employer_feedback(uuid,timestamp with time zone) TO cs_app_admin;
