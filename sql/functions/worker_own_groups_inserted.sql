-- sql/functions/worker_own_groups_inserted.sql
--      Statement trigger: the rows a statement inserted belong to consumer groups of the role.
--
-- worker_own_group_only's check made once per statement over its transition table (REFERENCING
-- NEW TABLE AS inserted), for the tables a worker fills by COPY of a whole batch: attached by
-- 0084_outbox_queue.sql to outbox_events (AFTER INSERT ... FOR EACH STATEMENT), where the row
-- trigger's PL/pgSQL call per row was half of the COPY's cost. The check and the message are
-- worker_own_group_only's; an exception undoes the whole statement. TG_ARGV[0] says what the
-- role was doing, for the message ('write outbox rows').
-- The role's patterns (cs_worker_group_patterns: a query of worker_roles and pg_roles) are read
-- once per statement, into a variable: the planner pushes a condition on the DISTINCT column down
-- below the DISTINCT, so cs_worker_owns_group(d.g) there ran once per inserted row, the patterns'
-- query with it: 13.5 s of a cs-readiness drain's 67,823 outbox rows as cs_worker_readiness
-- (17.2 s of PostgreSQL CPU against 3.0 s for the superuser, which skips the check; session 16).
-- The test is cs_worker_owns_group's (g LIKE ANY (patterns)).
--
-- depends: cs_worker_group_patterns

CREATE OR REPLACE FUNCTION worker_own_groups_inserted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    bad text;
    pats text[];
BEGIN
    -- The superuser and BYPASSRLS roles (the migrator, maintenance) are not restricted.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
        RETURN NULL;
    END IF;
    pats := public.cs_worker_group_patterns();
    SELECT d.g INTO bad
      FROM (SELECT DISTINCT consumer_group AS g FROM inserted) d
     WHERE NOT d.g LIKE ANY (pats)
     ORDER BY d.g LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'role % may not % of consumer group %', current_user, TG_ARGV[0], bad
            USING ERRCODE = '42501',
                  HINT = 'A worker role owns the consumer groups listed for it in worker_roles.';
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION worker_own_groups_inserted() FROM PUBLIC;
