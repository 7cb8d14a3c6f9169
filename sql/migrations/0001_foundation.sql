-- sql/migrations/0001_foundation.sql
--      Extensions, cluster-wide roles, and the helpers every later migration uses.
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

-- Nothing in public is usable by default; each role gets what it needs in 0030_grants.sql.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- pgvector when the server has it; otherwise embeddings fall back to real[] (see 0011).
DO $vector$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'vector') THEN
        EXECUTE 'CREATE EXTENSION IF NOT EXISTS vector';
    END IF;
END
$vector$;

-- True when the vector type is installed in this database.
CREATE FUNCTION cs_has_vector() RETURNS boolean
    LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'vector') $$;

-- The learner (or mentor, expert, admin) on whose behalf this transaction runs, or NULL.
-- A malformed value is treated as unset rather than raising, so policies fail closed.
CREATE FUNCTION cs_current_user_id() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v text := pg_catalog.current_setting('app.user_id', true);
BEGIN
    IF v IS NULL OR v !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        RETURN NULL;
    END IF;
    RETURN v::uuid;
END
$$;

-- updated_at upkeep, attached to every table with an updated_at column (0020_triggers.sql).
CREATE FUNCTION cs_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := pg_catalog.clock_timestamp();
    RETURN NEW;
END
$$;

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

-- The partition of parent that covers ts at the given granularity: its name and bounds.
CREATE FUNCTION cs_partition_bounds(parent regclass, granularity text, ts timestamptz,
                                    OUT part_name text, OUT lo timestamptz, OUT hi timestamptz)
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    base text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = parent);
    t timestamp := ts AT TIME ZONE 'UTC';
BEGIN
    CASE granularity
    WHEN 'week' THEN
        lo := date_trunc('week', t) AT TIME ZONE 'UTC';
        hi := lo + interval '1 week';
        part_name := base || '_p' || to_char(lo AT TIME ZONE 'UTC', 'IYYY"w"IW');
    WHEN 'month' THEN
        lo := date_trunc('month', t) AT TIME ZONE 'UTC';
        hi := lo + interval '1 month';
        part_name := base || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYY"m"MM');
    WHEN 'quarter' THEN
        lo := date_trunc('quarter', t) AT TIME ZONE 'UTC';
        hi := lo + interval '3 months';
        part_name := base || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYY"q"Q');
    ELSE
        RAISE EXCEPTION 'unknown partition granularity "%"', granularity
            USING HINT = 'Use week, month or quarter.';
    END CASE;
END
$$;

-- Statement-level TRUNCATE triggers are not inherited by partitions, yet a partition can be
-- truncated on its own: copy the parent's BEFORE TRUNCATE triggers (the audit log's append-only
-- guard) onto a new partition.
CREATE FUNCTION cs_partition_copy_truncate_triggers(parent regclass, part regclass) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgname, tg.tgfoid::regproc AS fn
               FROM pg_catalog.pg_trigger tg
              WHERE tg.tgrelid = parent AND NOT tg.tgisinternal
                AND (tg.tgtype & 32) <> 0 AND (tg.tgtype & 2) <> 0
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = part AND tgname = t.tgname) THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                           t.tgname, part, t.fn);
        END IF;
    END LOOP;
END
$$;

-- Creates the partition of parent covering ts unless it exists. Rows that already landed in the
-- DEFAULT partition for that range are moved into the new partition: the default is detached,
-- replaced by an empty one, and its rows are re-inserted through the parent before the old
-- default is dropped (no UPDATE or DELETE, so append-only guards are never bypassed).
-- Returns true when a partition was created.
CREATE FUNCTION cs_partition_create(parent regclass, granularity text, ts timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql
AS $$
DECLARE
    b record;
    nsp text;
    base text;
    def_name text;
    key_col text;
    moved bigint := 0;
    has_identity boolean;
BEGIN
    SELECT * INTO b FROM cs_partition_bounds(parent, granularity, ts);
    SELECT n.nspname, c.relname INTO nsp, base
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    IF to_regclass(format('%I.%I', nsp, b.part_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    def_name := base || '_default';
    SELECT a.attname INTO key_col
      FROM pg_catalog.pg_partitioned_table p
      JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent;

    IF to_regclass(format('%I.%I', nsp, def_name)) IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM %I.%I WHERE %I >= $1 AND %I < $2',
                       nsp, def_name, key_col, key_col) INTO moved USING b.lo, b.hi;
    END IF;

    IF moved = 0 THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       nsp, b.part_name, parent, b.lo, b.hi);
        PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, b.part_name)::regclass);
        RETURN true;
    END IF;

    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = parent AND a.attidentity = 'a' AND NOT a.attisdropped)
      INTO has_identity;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %I.%I', parent, nsp, def_name);
    EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', nsp, def_name, def_name || '_moving');
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, def_name, parent);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   nsp, b.part_name, parent, b.lo, b.hi);
    PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, def_name)::regclass);
    PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, b.part_name)::regclass);
    EXECUTE format('INSERT INTO %s %s SELECT * FROM %I.%I', parent,
                   CASE WHEN has_identity THEN 'OVERRIDING SYSTEM VALUE' ELSE '' END,
                   nsp, def_name || '_moving');
    EXECUTE format('DROP TABLE %I.%I', nsp, def_name || '_moving');
    RAISE NOTICE 'created partition % and moved % rows into it from %', b.part_name, moved, def_name;
    RETURN true;
END
$$;

-- Creates every partition of parent from now() - months_back to now() + months_ahead, plus the
-- DEFAULT partition. Returns the number of partitions created.
CREATE FUNCTION cs_partition_ensure(parent regclass, granularity text, months_back integer,
                                    months_ahead integer, at timestamptz DEFAULT now())
    RETURNS integer
    LANGUAGE plpgsql
AS $$
DECLARE
    nsp text;
    base text;
    step interval := CASE granularity WHEN 'week' THEN interval '1 week'
                                      WHEN 'month' THEN interval '1 month'
                                      ELSE interval '3 months' END;
    ts timestamptz := at - make_interval(months => months_back);
    created integer := 0;
BEGIN
    SELECT n.nspname, c.relname INTO nsp, base
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    IF to_regclass(format('%I.%I', nsp, base || '_default')) IS NULL THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, base || '_default', parent);
        PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, base || '_default')::regclass);
    END IF;
    WHILE ts < at + make_interval(months => months_ahead) LOOP
        IF cs_partition_create(parent, granularity, ts) THEN
            created := created + 1;
        END IF;
        ts := ts + step;
    END LOOP;
    INSERT INTO partition_config (parent_table, granularity, months_back, months_ahead)
    VALUES (parent, granularity, months_back, months_ahead)
    ON CONFLICT (parent_table) DO UPDATE
        SET granularity = EXCLUDED.granularity, months_ahead = EXCLUDED.months_ahead,
            months_back = EXCLUDED.months_back, updated_at = now();
    RETURN created;
END
$$;

-- The maintenance entry point: keeps every registered table partitioned ahead of time.
CREATE FUNCTION cs_partition_maintain(at timestamptz DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
AS $$
DECLARE
    c record;
    n integer := 0;
BEGIN
    FOR c IN SELECT * FROM partition_config ORDER BY parent_table::text LOOP
        n := n + cs_partition_ensure(c.parent_table, c.granularity, 0, c.months_ahead, at);
    END LOOP;
    RETURN n;
END
$$;
