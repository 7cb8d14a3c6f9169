-- sql/functions/cs_partition_bounds.sql
--      Name and bounds of the range partition covering a timestamp.

-- The partition of parent that covers ts at the given granularity: its name and bounds.
CREATE OR REPLACE FUNCTION cs_partition_bounds(parent regclass, granularity text, ts timestamptz,
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
