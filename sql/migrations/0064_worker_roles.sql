-- sql/migrations/0064_worker_roles.sql
--      Per-worker isolation of the runtime's bookkeeping: each worker role sees and changes the
--      offsets, processed event ids and dead letters of its own consumer groups only.
--
-- Until now (0040) every worker role could read and write every row of consumer_offsets,
-- processed_events and dead_letters: cs-audit's role could move cs-progress's offsets, delete its
-- processed ids (its events would then apply twice) and read every group's dead-letter payloads
-- (issue 14).
--
-- Ownership: worker_roles maps a role to the consumer-group prefixes it owns. A role owns a group
-- when it may use the privileges of a mapped role (pg_has_role(current_user, role, 'USAGE'): the
-- worker role itself, or a login role granted it) and the group is the prefix or starts with the
-- prefix and a '-': cs_worker_progress owns 'cs-progress', 'cs-progress-replay-7', 'cs-progress-eu',
-- not 'cs-progressive' nor 'cs-audit'. Prefixes of different roles may not overlap that way (a
-- trigger refuses it). A deployment that runs a worker under another --group adds a row here
-- (as the owner); the defaults are the workers' default groups.
--
-- Enforcement:
--  * consumer_offsets and processed_events: ROW LEVEL SECURITY, FORCE'd, with one policy per
--    table for the worker roles (every command, USING and WITH CHECK the same ownership test).
--    The owned groups are computed once per statement (an initplan: LIKE ANY over the role's
--    patterns), so the hot path's set-based statements pay one array match per row.
--    The superuser / BYPASSRLS migrator keeps full access (README, "Schema").
--  * dead_letters: the runtime writes it with COPY FROM, which PostgreSQL refuses on a table
--    with row-level security for every role it applies to, so this table has no RLS. Instead
--    the worker roles lose SELECT on it (the runtime never reads it back), a BEFORE INSERT
--    trigger (it fires for COPY too) refuses rows of a group the role does not own, and the
--    view worker_dead_letters shows a worker role its own groups' rows only.
-- Roles other than the worker roles have no grants on these tables (0040), so they need no policy.

CREATE TABLE worker_roles (
    role         name NOT NULL,
    group_prefix text NOT NULL CHECK (group_prefix ~ '^[A-Za-z0-9._]+(-[A-Za-z0-9._]+)*$'),
    PRIMARY KEY (role, group_prefix)
);
COMMENT ON TABLE worker_roles IS
    'Consumer groups each worker role owns in consumer_offsets, processed_events and dead_letters: '
    'group_prefix itself and every group starting with group_prefix || ''-'' (replays: '
    '<prefix>-replay-<job>).';

-- Two roles may not own the same group: no prefix of one role equals, or extends with '-', a
-- prefix of another role.
CREATE FUNCTION worker_roles_no_overlap() RETURNS trigger
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
CREATE TRIGGER trg_worker_roles_no_overlap BEFORE INSERT OR UPDATE ON worker_roles
    FOR EACH ROW EXECUTE FUNCTION worker_roles_no_overlap();
-- Serialises concurrent changes of the mapping so the overlap check sees committed rows only.
CREATE FUNCTION worker_roles_lock() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    LOCK TABLE public.worker_roles IN SHARE ROW EXCLUSIVE MODE;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_worker_roles_lock BEFORE INSERT OR UPDATE ON worker_roles
    FOR EACH STATEMENT EXECUTE FUNCTION worker_roles_lock();

INSERT INTO worker_roles (role, group_prefix) VALUES
    ('cs_worker_progress', 'cs-progress'),
    ('cs_worker_audit', 'cs-audit'),
    ('cs_worker_readiness', 'cs-readiness'),
    ('cs_worker_matching', 'cs-matching');

-- LIKE patterns of the groups the current role owns (the prefix, and the prefix followed by '-'
-- and anything); empty when it owns none. current_user, not session_user: a worker that connects
-- as a login role and SETs ROLE to its worker role is that role.
CREATE FUNCTION cs_worker_group_patterns() RETURNS text[]
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

-- Whether the current role owns consumer group g (one call; policies use the patterns directly).
CREATE FUNCTION cs_worker_owns_group(g text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
AS $$
    SELECT g LIKE ANY (public.cs_worker_group_patterns())
$$;

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['consumer_offsets', 'processed_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY worker_own_groups ON %I FOR ALL
                            TO cs_worker_progress, cs_worker_audit, cs_worker_readiness, cs_worker_matching
                            USING (consumer_group LIKE ANY ((SELECT cs_worker_group_patterns())::text[]))
                            WITH CHECK (consumer_group LIKE ANY ((SELECT cs_worker_group_patterns())::text[]))', t);
    END LOOP;
END
$rls$;

-- Dead letters: insert own groups' rows only (COPY included), read them through the view.
CREATE FUNCTION dead_letters_own_group() RETURNS trigger
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
CREATE TRIGGER trg_dead_letters_own_group BEFORE INSERT OR UPDATE OF consumer_group ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION dead_letters_own_group();

-- The view runs with its owner's rights on dead_letters and filters by the querying role's groups.
CREATE VIEW worker_dead_letters WITH (security_barrier) AS
    SELECT d.* FROM dead_letters d
     WHERE d.consumer_group LIKE ANY ((SELECT cs_worker_group_patterns())::text[]);
COMMENT ON VIEW worker_dead_letters IS
    'The dead letters of the consumer groups the current role owns (worker_roles).';

DO $grants$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['cs_worker_progress', 'cs_worker_audit', 'cs_worker_readiness',
                             'cs_worker_matching'] LOOP
        EXECUTE format('REVOKE SELECT, UPDATE, DELETE, TRUNCATE ON dead_letters FROM %I', r);
        EXECUTE format('GRANT INSERT ON dead_letters TO %I', r);
        EXECUTE format('GRANT SELECT ON worker_dead_letters, worker_roles TO %I', r);
    END LOOP;
END
$grants$;
GRANT SELECT ON worker_roles TO cs_app_admin;
REVOKE EXECUTE ON FUNCTION worker_roles_no_overlap(), worker_roles_lock(), dead_letters_own_group() FROM PUBLIC;
