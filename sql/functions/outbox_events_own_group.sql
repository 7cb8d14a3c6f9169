-- sql/functions/outbox_events_own_group.sql
--      Trigger: a worker role writes outbox rows of its own consumer groups only.
--
-- Attached by 0065_outbox.sql (BEFORE INSERT OR UPDATE OF consumer_group; fires for COPY, which
-- PostgreSQL refuses on a table with row-level security, hence a trigger as for dead_letters).
--
-- depends: cs_worker_owns_group

CREATE OR REPLACE FUNCTION outbox_events_own_group() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    -- The superuser and BYPASSRLS roles (the migrator, maintenance) are not restricted.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname = current_user AND (rolsuper OR rolbypassrls))
       AND NOT public.cs_worker_owns_group(NEW.consumer_group) THEN
        RAISE EXCEPTION 'role % may not write outbox rows of consumer group %', current_user, NEW.consumer_group
            USING ERRCODE = '42501',
                  HINT = 'A worker role owns the consumer groups listed for it in worker_roles.';
    END IF;
    RETURN NEW;
END
$$;

REVOKE EXECUTE ON FUNCTION outbox_events_own_group() FROM PUBLIC;
