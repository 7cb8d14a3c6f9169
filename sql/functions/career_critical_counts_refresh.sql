-- sql/functions/career_critical_counts_refresh.sql
--      Recomputes career_critical_content_counts (migration 0074) from content_chunks.
--
-- The career-critical content items of each industry (content_chunks whose industry_relevance
-- holds it, each item once), the career_critical_total of career_readiness_inputs_batch. Called
-- by the statement trigger on content_chunks (career_critical_counts_on_change) and by 0074 for
-- the rows already there. Content is reference data (a few thousand rows, changed by the seed
-- and by experts, never by a worker): recounting it all on each statement is simpler and cheaper
-- than keeping counts row by row, and exact by construction.
CREATE OR REPLACE FUNCTION career_critical_counts_refresh() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM public.career_critical_content_counts;
    INSERT INTO public.career_critical_content_counts (industry_id, n)
    SELECT x.industry_id, count(DISTINCT cc.content_id)::int
      FROM public.content_chunks cc
     CROSS JOIN LATERAL unnest(cc.industry_relevance) AS x(industry_id)
     WHERE cc.is_career_critical AND x.industry_id IS NOT NULL
     GROUP BY x.industry_id;
END
$$;

REVOKE EXECUTE ON FUNCTION career_critical_counts_refresh() FROM PUBLIC;
