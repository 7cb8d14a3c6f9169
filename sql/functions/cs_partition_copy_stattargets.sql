-- sql/functions/cs_partition_copy_stattargets.sql
--      Copies a parent's per-column statistics targets onto one of its partitions.

-- ALTER TABLE parent ALTER COLUMN c SET STATISTICS n recurses to the partitions that exist, but a
-- partition created later with CREATE TABLE ... PARTITION OF starts with the default target (-1)
-- on every column (PostgreSQL 15 does not copy attstattarget), and autovacuum's ANALYZE of that
-- partition would again sample every column. Called for every partition the cs_partition_*
-- functions create (system_logs: migration 0090 sets the targets it keeps).
CREATE OR REPLACE FUNCTION cs_partition_copy_stattargets(parent regclass, part regclass) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    clauses text;
BEGIN
    SELECT string_agg(format('ALTER COLUMN %I SET STATISTICS %s', pa.attname, pa.attstattarget),
                      ', ' ORDER BY pa.attnum)
      INTO clauses
      FROM pg_catalog.pg_attribute pa
      JOIN pg_catalog.pg_attribute ca ON ca.attrelid = part AND ca.attname = pa.attname
                                     AND ca.attnum > 0 AND NOT ca.attisdropped
     WHERE pa.attrelid = parent AND pa.attnum > 0 AND NOT pa.attisdropped
       AND pa.attstattarget >= 0 AND ca.attstattarget IS DISTINCT FROM pa.attstattarget;
    IF clauses IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s %s', part, clauses);
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION cs_partition_copy_stattargets(regclass,regclass) FROM PUBLIC;
