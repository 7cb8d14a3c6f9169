-- sql/functions/career_critical_counts_on_change.sql
--      Trigger: any change of content_chunks recounts its career-critical items per industry.
--
-- Attached by 0074_career_critical_counts.sql, FOR EACH STATEMENT (INSERT, UPDATE, DELETE,
-- TRUNCATE): one recount per statement, in its transaction.
-- depends: career_critical_counts_refresh
CREATE OR REPLACE FUNCTION career_critical_counts_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM public.career_critical_counts_refresh();
    RETURN NULL;
END
$$;
