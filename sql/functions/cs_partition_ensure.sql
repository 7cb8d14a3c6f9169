-- sql/functions/cs_partition_ensure.sql
--      Creates the partitions of a table from months_back to months_ahead, and its DEFAULT.
--
-- Walks aligned partition boundaries: starting from the lower bound of the first partition makes
-- the set exactly "every partition whose lower bound lies before at + months_ahead", whoever calls
-- it and whenever (an unaligned start, now() - months_back, made the last partition depend on the
-- time of day it ran, so cs_partition_maintain() could find one more to create right after
-- migrating). Called by the migrations that create range-partitioned tables (-- requires:).
--
-- depends: cs_partition_bounds, cs_partition_copy_truncate_triggers, cs_partition_copy_stattargets, cs_partition_create

CREATE OR REPLACE FUNCTION cs_partition_ensure(parent regclass, granularity text, months_back integer,
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
    ts timestamptz := (cs_partition_bounds(parent, granularity, at - make_interval(months => months_back))).lo;
    created integer := 0;
BEGIN
    SELECT n.nspname, c.relname INTO nsp, base
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    IF to_regclass(format('%I.%I', nsp, base || '_default')) IS NULL THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, base || '_default', parent);
        PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, base || '_default')::regclass);
        PERFORM cs_partition_copy_stattargets(parent, format('%I.%I', nsp, base || '_default')::regclass);
    END IF;
    WHILE ts < at + make_interval(months => months_ahead) LOOP
        IF cs_partition_create(parent, granularity, ts) THEN
            created := created + 1;
        END IF;
        -- Months and quarters are added in UTC so the boundaries stay on the first of the month.
        ts := ((ts AT TIME ZONE 'UTC') + step) AT TIME ZONE 'UTC';
    END LOOP;
    INSERT INTO partition_config (parent_table, granularity, months_back, months_ahead)
    VALUES (parent, granularity, months_back, months_ahead)
    ON CONFLICT (parent_table) DO UPDATE
        SET granularity = EXCLUDED.granularity, months_ahead = EXCLUDED.months_ahead,
            months_back = EXCLUDED.months_back, updated_at = now();
    RETURN created;
END
$$;

REVOKE EXECUTE ON FUNCTION cs_partition_ensure(regclass,text,integer,integer,timestamp with time zone) FROM PUBLIC;
