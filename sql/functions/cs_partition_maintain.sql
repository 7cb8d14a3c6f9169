-- sql/functions/cs_partition_maintain.sql
--      Keeps every table registered in partition_config partitioned ahead of time.
--
-- Run by cs-migrate --maintain-partitions (daily from cron, or at every deploy).
--
-- depends: cs_partition_ensure

-- The maintenance entry point: keeps every registered table partitioned ahead of time.
CREATE OR REPLACE FUNCTION cs_partition_maintain(at timestamptz DEFAULT now()) RETURNS integer
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

REVOKE EXECUTE ON FUNCTION cs_partition_maintain(timestamp with time zone) FROM PUBLIC;
