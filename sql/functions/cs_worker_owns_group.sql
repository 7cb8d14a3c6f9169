-- sql/functions/cs_worker_owns_group.sql
--      Whether the current role owns a consumer group (worker_roles).
--
-- depends: cs_worker_group_patterns

-- Whether the current role owns consumer group g (one call; policies use the patterns directly).
CREATE OR REPLACE FUNCTION cs_worker_owns_group(g text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
AS $$
    SELECT g LIKE ANY (public.cs_worker_group_patterns())
$$;
