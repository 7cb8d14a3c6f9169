-- sql/functions/worker_roles_no_overlap.sql
--      Trigger: two worker roles may not own the same consumer group.
--
-- Attached by 0064_worker_roles.sql.

-- Two roles may not own the same group: no prefix of one role equals, or extends with '-', a
-- prefix of another role.
CREATE OR REPLACE FUNCTION worker_roles_no_overlap() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.worker_roles w
                WHERE w.role <> NEW.role
                  AND (w.group_prefix = NEW.group_prefix
                       OR starts_with(w.group_prefix, NEW.group_prefix || '-')
                       OR starts_with(NEW.group_prefix, w.group_prefix || '-'))) THEN
        RAISE EXCEPTION 'consumer group prefix % of role % overlaps a prefix of another role',
            NEW.group_prefix, NEW.role USING ERRCODE = '23505';
    END IF;
    RETURN NEW;
END
$$;

REVOKE EXECUTE ON FUNCTION worker_roles_no_overlap() FROM PUBLIC;
