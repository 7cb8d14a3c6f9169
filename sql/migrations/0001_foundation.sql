-- sql/migrations/0001_foundation.sql
--      Extensions, cluster-wide roles and the partition registry (partition_config).
--
-- Roles are cluster-wide while migrations run per database, so each role is created only when
-- pg_roles does not have it yet: migrating several databases of one cluster works. Runtime roles
-- are NOLOGIN group roles without BYPASSRLS; deployments grant them to login roles.
-- Identity for row-level security comes from the transaction-local setting app.user_id
-- (set_config('app.user_id', $1, true)); cs_current_user_id() is NULL when it is unset or empty,
-- so every policy fails closed.

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY[
        'cs_worker_progress',   -- cs-progress: event-fed learner tables
        'cs_worker_audit',      -- cs-audit: INSERT into system_logs only
        'cs_worker_readiness',  -- cs-readiness: readiness scores
        'cs_worker_matching',   -- cs-matching: mentor assignments
        'cs_app_learner', 'cs_app_mentor', 'cs_app_expert', 'cs_app_admin',
        'cs_analytics']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', r);
        END IF;
    END LOOP;
END
$roles$;

-- Nothing in public is usable by default; each role gets what it needs in 0024_grants.sql.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- pgvector when the server has it; otherwise embeddings fall back to real[] (see 0011).
DO $vector$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'vector') THEN
        EXECUTE 'CREATE EXTENSION IF NOT EXISTS vector';
    END IF;
END
$vector$;

-- ---------------------------------------------------------------------------------------------
-- Range partitioning without pg_partman: partitions are created ahead of time by
-- cs_partition_ensure(), and every range-partitioned table has a DEFAULT partition so a row far
-- outside the prepared range is stored, never rejected. partition_config is the registry that
-- cs_partition_maintain() walks (call it daily from cron or an operator job).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE partition_config (
    parent_table  regclass    PRIMARY KEY,
    granularity   text        NOT NULL CHECK (granularity IN ('week', 'month', 'quarter')),
    months_back   integer     NOT NULL CHECK (months_back BETWEEN 0 AND 120),
    months_ahead  integer     NOT NULL CHECK (months_ahead BETWEEN 1 AND 120),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
