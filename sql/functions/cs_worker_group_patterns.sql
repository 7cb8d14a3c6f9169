-- sql/functions/cs_worker_group_patterns.sql
--      LIKE patterns of the consumer groups the current role owns (worker_roles).
--
-- Used by the policies and the view of 0064_worker_roles.sql, which explains the ownership rule.

-- LIKE patterns of the groups the current role owns (the prefix, and the prefix followed by '-'
-- and anything); empty when it owns none. current_user, not session_user: a worker that connects
-- as a login role and SETs ROLE to its worker role is that role.
CREATE OR REPLACE FUNCTION cs_worker_group_patterns() RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
AS $$
    SELECT coalesce(array_agg(p.pattern), '{}')
      FROM public.worker_roles w
      JOIN pg_catalog.pg_roles r ON r.rolname = w.role
     CROSS JOIN LATERAL (SELECT replace(replace(replace(w.group_prefix, '\', '\\'), '%', '\%'), '_', '\_') AS e) x
     CROSS JOIN LATERAL (VALUES (x.e), (x.e || '-%')) AS p(pattern)
     WHERE pg_catalog.pg_has_role(current_user, r.oid, 'USAGE')
$$;

COMMENT ON FUNCTION cs_worker_group_patterns() IS
    'LIKE patterns of the consumer groups the current role owns (worker_roles).';
