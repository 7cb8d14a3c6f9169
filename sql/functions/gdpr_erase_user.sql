-- sql/functions/gdpr_erase_user.sql
--      Erases a learner (GDPR): ledger entry, profile cascade, feedback, audit payloads, dead letters.
--
-- The worker runtime keeps every event it could not apply in dead_letters, payload and Kafka key
-- included; the key of every careerstream event is the learner's user_id, so an erased learner's
-- personal data would survive there, and an operator re-publishing dead letters would bring the
-- learner back into the topics. Erasure deletes those rows too (they must never be re-published):
-- by the learner (dead_letters.user_id, 0067) and, for rows recorded before it, by the key.
-- dead_letters is reached with dynamic SQL and skipped when absent. Dead letters recorded after
-- the erasure keep no payload, key nor reason (cs/dlq.h). The copies in the Kafka
-- dead-letter topics age out with the topics' retention (7 days); consumers skip them through the
-- erasure ledger meanwhile.
--
-- depends: anonymize_employer_feedback, audit_redact_user

CREATE OR REPLACE FUNCTION gdpr_erase_user(p_user_id uuid, p_request_event_id uuid DEFAULT NULL, p_reason text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newly boolean;
    n_feedback bigint;
    n_profile bigint;
    n_audit bigint;
    n_dead bigint := 0;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION 'gdpr_erase_user needs a user_id' USING ERRCODE = '22004';
    END IF;
    INSERT INTO public.erased_users (user_id, request_event_id, reason)
    VALUES (p_user_id, p_request_event_id, coalesce(p_reason, 'gdpr_erasure_request'))
    ON CONFLICT (user_id) DO NOTHING;
    newly := FOUND;
    n_feedback := public.anonymize_employer_feedback(p_user_id, NULL);
    DELETE FROM public.user_career_profiles WHERE user_id = p_user_id;
    GET DIAGNOSTICS n_profile = ROW_COUNT;
    n_audit := public.audit_redact_user(p_user_id);
    IF to_regclass('public.dead_letters') IS NOT NULL THEN
        EXECUTE 'DELETE FROM public.dead_letters WHERE user_id = $1 OR msg_key = convert_to($1::text, ''UTF8'')'
            USING p_user_id;
        GET DIAGNOSTICS n_dead = ROW_COUNT;
    END IF;
    RETURN jsonb_build_object('user_id', p_user_id, 'newly_erased', newly, 'profiles_deleted', n_profile,
                              'feedback_anonymized', n_feedback, 'audit_rows_redacted', n_audit,
                              'dead_letters_deleted', n_dead);
END
$$;

REVOKE EXECUTE ON FUNCTION gdpr_erase_user(uuid,uuid,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gdpr_erase_user(uuid,uuid,text) TO cs_app_admin;
