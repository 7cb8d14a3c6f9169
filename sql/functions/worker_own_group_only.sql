-- sql/functions/worker_own_group_only.sql
--      Trigger: a worker role writes rows of its own consumer groups only.
--
-- Attached by 0064_worker_roles.sql to dead_letters and by 0065_outbox.sql to outbox_events
-- (BEFORE INSERT OR UPDATE OF consumer_group). These tables have no row-level security (a
-- trigger fires for COPY, which PostgreSQL refuses on a table with row-level security), so the
-- trigger is what keeps a worker to its groups. TG_ARGV[0] says what the role was doing, for the
-- message: 'record dead letters', 'write outbox rows'.
--
-- depends: cs_worker_owns_group

CREATE OR REPLACE FUNCTION worker_own_group_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    -- The superuser and BYPASSRLS roles (the migrator, maintenance) are not restricted, as on
    -- the tables with row-level security.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname = current_user AND (rolsuper OR rolbypassrls))
       AND NOT public.cs_worker_owns_group(NEW.consumer_group) THEN
        RAISE EXCEPTION 'role % may not % of consumer group %', current_user, TG_ARGV[0], NEW.consumer_group
            USING ERRCODE = '42501',
                  HINT = 'A worker role owns the consumer groups listed for it in worker_roles.';
    END IF;
    RETURN NEW;
END
$$;

REVOKE EXECUTE ON FUNCTION worker_own_group_only() FROM PUBLIC;
