-- sql/functions/readiness_activity_rollup_recount.sql
--      Recounts readiness_activity_rollups (completed coaching sessions and mock interviews, projects
--      not abandoned, per learner) from career_coaching_sessions, interview_preparation and
--      user_portfolio_projects.
--
-- The backfill of migration 0079 and what a TRUNCATE of either table runs
-- (readiness_activity_rollup_on_change); every other change is applied as a delta. Each column is
-- what career_readiness_inputs_batch computed from the rows before 0079.

CREATE OR REPLACE FUNCTION readiness_activity_rollup_recount() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOCK TABLE public.readiness_activity_rollups IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM public.readiness_activity_rollups;
    INSERT INTO public.readiness_activity_rollups
    SELECT x.user_id, sum(x.coach_n), sum(x.coach_rating_sum), sum(x.coach_rating_n),
           sum(x.mock_n), sum(x.mock_score_sum), sum(x.mock_score_n),
           sum(x.proj_n), sum(x.proj_completed), sum(x.proj_showcase), sum(x.proj_review_sum), sum(x.proj_review_n)
      FROM (SELECT s.user_id, count(*) AS coach_n, coalesce(sum(s.mentee_rating), 0) AS coach_rating_sum,
                   count(s.mentee_rating) AS coach_rating_n, 0 AS mock_n, 0 AS mock_score_sum, 0 AS mock_score_n,
                   0 AS proj_n, 0 AS proj_completed, 0 AS proj_showcase, 0 AS proj_review_sum, 0 AS proj_review_n
              FROM public.career_coaching_sessions s WHERE s.status = 'completed' GROUP BY s.user_id
            UNION ALL
            SELECT ip.user_id, 0, 0, 0, count(*), coalesce(sum(ip.overall_score), 0), count(ip.overall_score), 0, 0, 0, 0, 0
              FROM public.interview_preparation ip WHERE ip.status = 'completed' GROUP BY ip.user_id
            UNION ALL
            SELECT upp.user_id, 0, 0, 0, 0, 0, 0, count(*), count(*) FILTER (WHERE upp.status IN ('completed', 'showcased')),
                   count(*) FILTER (WHERE upp.showcase_ready), coalesce(sum(upp.avg_review_score), 0), count(upp.avg_review_score)
              FROM public.user_portfolio_projects upp WHERE upp.status <> 'abandoned' GROUP BY upp.user_id) x
     GROUP BY x.user_id;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_activity_rollup_recount() FROM PUBLIC;
