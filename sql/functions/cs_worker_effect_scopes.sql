-- sql/functions/cs_worker_effect_scopes.sql
--      The effect scopes the current role owns (worker_scopes).
--
-- Used by the policy of 0066_effect_ledger.sql, which explains what a scope is.

-- The scopes of every worker role the current role may use (the worker role itself, or a login
-- role granted it); empty when it owns none. current_user, as cs_worker_group_patterns.
CREATE OR REPLACE FUNCTION cs_worker_effect_scopes() RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
AS $$
    SELECT coalesce(array_agg(s.effect_scope), '{}')
      FROM public.worker_scopes s
      JOIN pg_catalog.pg_roles r ON r.rolname = s.role
     WHERE pg_catalog.pg_has_role(current_user, r.oid, 'USAGE')
$$;

COMMENT ON FUNCTION cs_worker_effect_scopes() IS
    'Effect scopes (processed_events.effect_scope) the current role owns (worker_scopes).';
