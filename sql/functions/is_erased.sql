-- sql/functions/is_erased.sql
--      Whether a learner is in the erasure ledger.

-- True when the learner is in the erasure ledger (for consumers and the replay tool).
CREATE OR REPLACE FUNCTION is_erased(p_user_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM public.erased_users WHERE user_id = p_user_id) $$;

REVOKE EXECUTE ON FUNCTION is_erased(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION is_erased(uuid) TO cs_worker_progress, cs_worker_audit, cs_worker_readiness, cs_worker_matching, cs_app_admin;
