-- sql/functions/cs_prune_processed_events.sql
--      Deletes processed event ids older than a given age.

CREATE OR REPLACE FUNCTION cs_prune_processed_events(keep interval)
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, public
AS $$
    WITH d AS (DELETE FROM public.processed_events WHERE processed_at < now() - keep RETURNING 1)
    SELECT count(*) FROM d;
$$;

COMMENT ON FUNCTION cs_prune_processed_events(interval) IS
    'Deletes processed event ids older than keep (choose more than the longest topic retention).';
