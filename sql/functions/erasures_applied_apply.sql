-- sql/functions/erasures_applied_apply.sql
--      Trigger: a worker that applies a user_erasure_requested event erases the learner.
--
-- Attached by 0068_erasures_applied.sql (AFTER INSERT, each row): the row a worker's handler
-- appends for the event runs gdpr_erase_user in the batch's transaction, with the owner's rights
-- (the worker roles may not execute gdpr_erase_user themselves). gdpr_erase_user is idempotent:
-- cs-progress and cs-audit both apply the same request, whichever comes first erases, the other
-- finds what it wrote meanwhile (cs-audit's rows of the learner: redacted again).
--
-- depends: gdpr_erase_user

CREATE OR REPLACE FUNCTION erasures_applied_apply() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM public.gdpr_erase_user(NEW.user_id, NEW.request_event_id, NEW.reason);
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION erasures_applied_apply() FROM PUBLIC;
