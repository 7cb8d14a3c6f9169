-- sql/functions/refresh_analytics.sql
--      Refreshes the analytics materialized views concurrently.

-- Refreshes the three views concurrently (readers keep the previous contents meanwhile).
-- Returns the time each refresh took, in milliseconds.
CREATE OR REPLACE FUNCTION refresh_analytics() RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t0 timestamptz;
    result jsonb := '{}';
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['mv_career_transformation_metrics', 'mv_content_effectiveness', 'mv_mentorship_impact'] LOOP
        t0 := clock_timestamp();
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY public.%I', v);
        result := result || jsonb_build_object(v, round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1));
    END LOOP;
    RETURN result;
END
$$;

REVOKE EXECUTE ON FUNCTION refresh_analytics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_analytics() TO cs_app_admin;
