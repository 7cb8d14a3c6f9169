-- sql/functions/worker_roles_lock.sql
--      Trigger: serialises changes of worker_roles.
--
-- Attached by 0064_worker_roles.sql.

-- Serialises concurrent changes of the mapping so the overlap check sees committed rows only.
CREATE OR REPLACE FUNCTION worker_roles_lock() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    LOCK TABLE public.worker_roles IN SHARE ROW EXCLUSIVE MODE;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION worker_roles_lock() FROM PUBLIC;
