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
-- requires: worker_roles_no_overlap, worker_roles_lock, cs_worker_group_patterns, worker_own_group_only

CREATE TABLE worker_roles (
    role         name NOT NULL,
    group_prefix text NOT NULL CHECK (group_prefix ~ '^[A-Za-z0-9._]+(-[A-Za-z0-9._]+)*$'),
    PRIMARY KEY (role, group_prefix)
);
COMMENT ON TABLE worker_roles IS
    'Consumer groups each worker role owns in consumer_offsets, processed_events and dead_letters: '
    'group_prefix itself and every group starting with group_prefix || ''-'' (replays: '
    '<prefix>-replay-<job>).';

CREATE TRIGGER trg_worker_roles_no_overlap BEFORE INSERT OR UPDATE ON worker_roles
    FOR EACH ROW EXECUTE FUNCTION worker_roles_no_overlap();
CREATE TRIGGER trg_worker_roles_lock BEFORE INSERT OR UPDATE ON worker_roles
    FOR EACH STATEMENT EXECUTE FUNCTION worker_roles_lock();

INSERT INTO worker_roles (role, group_prefix) VALUES
    ('cs_worker_progress', 'cs-progress'),
    ('cs_worker_audit', 'cs-audit'),
    ('cs_worker_readiness', 'cs-readiness'),
    ('cs_worker_matching', 'cs-matching');

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

CREATE TRIGGER trg_dead_letters_own_group BEFORE INSERT OR UPDATE OF consumer_group ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION worker_own_group_only('record dead letters');

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
