-- sql/functions/dead_letters_own_group.sql
--      Trigger: a worker role records dead letters of its own consumer groups only.
--
-- Attached by 0064_worker_roles.sql (BEFORE INSERT OR UPDATE OF consumer_group; fires for COPY).
--
-- depends: cs_worker_owns_group

-- Dead letters: insert own groups' rows only (COPY included), read them through the view.
CREATE OR REPLACE FUNCTION dead_letters_own_group() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    -- The superuser and BYPASSRLS roles (the migrator, maintenance) are not restricted, as on
    -- the tables with row-level security.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname = current_user AND (rolsuper OR rolbypassrls))
       AND NOT public.cs_worker_owns_group(NEW.consumer_group) THEN
        RAISE EXCEPTION 'role % may not record dead letters of consumer group %', current_user, NEW.consumer_group
            USING ERRCODE = '42501',
                  HINT = 'A worker role owns the consumer groups listed for it in worker_roles.';
    END IF;
    RETURN NEW;
END
$$;

REVOKE EXECUTE ON FUNCTION dead_letters_own_group() FROM PUBLIC;
