-- sql/functions/cs_grant_workers.sql
--      GRANT the same privileges to every worker role, for migrations.
--
-- Migrations 0040, 0064, 0065, 0071 and 0072 each wrote the same DO loop over the four worker
-- roles (applied migrations are checksummed, so they keep theirs); a new migration declares
-- "-- requires: cs_grant_workers" and calls it instead, once per privilege list:
--     SELECT cs_grant_workers('SELECT, INSERT, UPDATE', 'replay_jobs');
--     SELECT cs_grant_workers('UPDATE (resolved_at, resolution)', 'worker_dead_letters');
-- The worker roles are those of worker_roles (migration 0064: the role of each worker and the
-- consumer groups it owns), so a worker role added there is granted by later migrations too; a
-- role listed there but not created in this cluster is skipped. privileges and objects are the
-- GRANT statement's own text (as after GRANT and after ON): trusted SQL from a migration, never
-- user input. Returns the roles granted, in name order.
CREATE OR REPLACE FUNCTION cs_grant_workers(privileges text, objects text) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    r text;
    granted text[] := '{}';
BEGIN
    IF coalesce(btrim(privileges), '') = '' OR coalesce(btrim(objects), '') = ''
       OR strpos(privileges || objects, ';') > 0 THEN
        RAISE EXCEPTION 'cs_grant_workers: privileges and objects must be non-empty, without ";" (got % / %)',
            quote_nullable(privileges), quote_nullable(objects)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT DISTINCT w.role FROM public.worker_roles w
              JOIN pg_roles ro ON ro.rolname = w.role ORDER BY 1 LOOP
        EXECUTE format('GRANT %s ON %s TO %I', privileges, objects, r);
        granted := granted || r;
    END LOOP;
    RETURN granted;
END
$$;

REVOKE EXECUTE ON FUNCTION cs_grant_workers(text, text) FROM PUBLIC;

COMMENT ON FUNCTION cs_grant_workers(text, text) IS
    'GRANT privileges ON objects TO every worker role of worker_roles (for migrations: one place '
    'for the grant-to-every-worker loop); returns the roles granted.';
