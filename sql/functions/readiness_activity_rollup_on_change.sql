-- sql/functions/readiness_activity_rollup_on_change.sql
--      Trigger: keeps readiness_activity_rollups exact under every change of
--      career_coaching_sessions, interview_preparation and user_portfolio_projects, once per
--      statement.
--
-- Attached by 0079_readiness_progress_rollups.sql to INSERT, UPDATE and DELETE of the three tables
-- (statement triggers with transition tables new_rows / old_rows; on the partitioned tables they
-- see the rows of every partition written through the parent). Every column is a count or a sum
-- of the completed sessions and mock interviews, or of the projects not abandoned, so each statement adds its new rows'
-- part and subtracts its old rows' (TG_TABLE_NAME says which columns), per learner in key order
-- (concurrent batches lock rollup rows in one order). TRUNCATE recounts.
-- depends: readiness_activity_rollup_recount

CREATE OR REPLACE FUNCTION readiness_activity_rollup_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM public.readiness_activity_rollup_recount();
    ELSIF TG_TABLE_NAME = 'career_coaching_sessions' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_activity_rollups AS r (user_id, coach_n, coach_rating_sum, coach_rating_n)
            SELECT n.user_id, count(*), coalesce(sum(n.mentee_rating), 0), count(n.mentee_rating)
              FROM new_rows n WHERE n.status = 'completed'
             GROUP BY n.user_id ORDER BY n.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET coach_n = r.coach_n + EXCLUDED.coach_n, coach_rating_sum = r.coach_rating_sum + EXCLUDED.coach_rating_sum,
                   coach_rating_n = r.coach_rating_n + EXCLUDED.coach_rating_n;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO public.readiness_activity_rollups AS r (user_id, coach_n, coach_rating_sum, coach_rating_n)
            SELECT o.user_id, -count(*), -coalesce(sum(o.mentee_rating), 0), -count(o.mentee_rating)
              FROM old_rows o WHERE o.status = 'completed'
             GROUP BY o.user_id ORDER BY o.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET coach_n = r.coach_n + EXCLUDED.coach_n, coach_rating_sum = r.coach_rating_sum + EXCLUDED.coach_rating_sum,
                   coach_rating_n = r.coach_rating_n + EXCLUDED.coach_rating_n;
        ELSE
            INSERT INTO public.readiness_activity_rollups AS r (user_id, coach_n, coach_rating_sum, coach_rating_n)
            SELECT d.user_id, sum(d.s), coalesce(sum(d.s * d.mentee_rating), 0),
                   coalesce(sum(d.s) FILTER (WHERE d.mentee_rating IS NOT NULL), 0)
              FROM (SELECT 1 AS s, n.user_id, n.mentee_rating FROM new_rows n WHERE n.status = 'completed'
                    UNION ALL
                    SELECT -1, o.user_id, o.mentee_rating FROM old_rows o WHERE o.status = 'completed') d
             GROUP BY d.user_id ORDER BY d.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET coach_n = r.coach_n + EXCLUDED.coach_n, coach_rating_sum = r.coach_rating_sum + EXCLUDED.coach_rating_sum,
                   coach_rating_n = r.coach_rating_n + EXCLUDED.coach_rating_n;
        END IF;
    ELSIF TG_TABLE_NAME = 'interview_preparation' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_activity_rollups AS r (user_id, mock_n, mock_score_sum, mock_score_n)
            SELECT n.user_id, count(*), coalesce(sum(n.overall_score), 0), count(n.overall_score)
              FROM new_rows n WHERE n.status = 'completed'
             GROUP BY n.user_id ORDER BY n.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET mock_n = r.mock_n + EXCLUDED.mock_n, mock_score_sum = r.mock_score_sum + EXCLUDED.mock_score_sum,
                   mock_score_n = r.mock_score_n + EXCLUDED.mock_score_n;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO public.readiness_activity_rollups AS r (user_id, mock_n, mock_score_sum, mock_score_n)
            SELECT o.user_id, -count(*), -coalesce(sum(o.overall_score), 0), -count(o.overall_score)
              FROM old_rows o WHERE o.status = 'completed'
             GROUP BY o.user_id ORDER BY o.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET mock_n = r.mock_n + EXCLUDED.mock_n, mock_score_sum = r.mock_score_sum + EXCLUDED.mock_score_sum,
                   mock_score_n = r.mock_score_n + EXCLUDED.mock_score_n;
        ELSE
            INSERT INTO public.readiness_activity_rollups AS r (user_id, mock_n, mock_score_sum, mock_score_n)
            SELECT d.user_id, sum(d.s), coalesce(sum(d.s * d.overall_score), 0),
                   coalesce(sum(d.s) FILTER (WHERE d.overall_score IS NOT NULL), 0)
              FROM (SELECT 1 AS s, n.user_id, n.overall_score FROM new_rows n WHERE n.status = 'completed'
                    UNION ALL
                    SELECT -1, o.user_id, o.overall_score FROM old_rows o WHERE o.status = 'completed') d
             GROUP BY d.user_id ORDER BY d.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET mock_n = r.mock_n + EXCLUDED.mock_n, mock_score_sum = r.mock_score_sum + EXCLUDED.mock_score_sum,
                   mock_score_n = r.mock_score_n + EXCLUDED.mock_score_n;
        END IF;
    ELSIF TG_TABLE_NAME = 'user_portfolio_projects' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_activity_rollups AS r (user_id, proj_n, proj_completed, proj_showcase,
                                                                proj_review_sum, proj_review_n)
            SELECT n.user_id, count(*), count(*) FILTER (WHERE n.status IN ('completed', 'showcased')),
                   count(*) FILTER (WHERE n.showcase_ready), coalesce(sum(n.avg_review_score), 0), count(n.avg_review_score)
              FROM new_rows n WHERE n.status <> 'abandoned'
             GROUP BY n.user_id ORDER BY n.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET proj_n = r.proj_n + EXCLUDED.proj_n, proj_completed = r.proj_completed + EXCLUDED.proj_completed,
                   proj_showcase = r.proj_showcase + EXCLUDED.proj_showcase,
                   proj_review_sum = r.proj_review_sum + EXCLUDED.proj_review_sum,
                   proj_review_n = r.proj_review_n + EXCLUDED.proj_review_n;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO public.readiness_activity_rollups AS r (user_id, proj_n, proj_completed, proj_showcase,
                                                                proj_review_sum, proj_review_n)
            SELECT o.user_id, -count(*), -count(*) FILTER (WHERE o.status IN ('completed', 'showcased')),
                   -count(*) FILTER (WHERE o.showcase_ready), -coalesce(sum(o.avg_review_score), 0), -count(o.avg_review_score)
              FROM old_rows o WHERE o.status <> 'abandoned'
             GROUP BY o.user_id ORDER BY o.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET proj_n = r.proj_n + EXCLUDED.proj_n, proj_completed = r.proj_completed + EXCLUDED.proj_completed,
                   proj_showcase = r.proj_showcase + EXCLUDED.proj_showcase,
                   proj_review_sum = r.proj_review_sum + EXCLUDED.proj_review_sum,
                   proj_review_n = r.proj_review_n + EXCLUDED.proj_review_n;
        ELSE
            INSERT INTO public.readiness_activity_rollups AS r (user_id, proj_n, proj_completed, proj_showcase,
                                                                proj_review_sum, proj_review_n)
            SELECT d.user_id, sum(d.s), coalesce(sum(d.s) FILTER (WHERE d.status IN ('completed', 'showcased')), 0),
                   coalesce(sum(d.s) FILTER (WHERE d.showcase_ready), 0), coalesce(sum(d.s * d.avg_review_score), 0),
                   coalesce(sum(d.s) FILTER (WHERE d.avg_review_score IS NOT NULL), 0)
              FROM (SELECT 1 AS s, n.user_id, n.status, n.showcase_ready, n.avg_review_score FROM new_rows n
                     WHERE n.status <> 'abandoned'
                    UNION ALL
                    SELECT -1, o.user_id, o.status, o.showcase_ready, o.avg_review_score FROM old_rows o
                     WHERE o.status <> 'abandoned') d
             GROUP BY d.user_id ORDER BY d.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET proj_n = r.proj_n + EXCLUDED.proj_n, proj_completed = r.proj_completed + EXCLUDED.proj_completed,
                   proj_showcase = r.proj_showcase + EXCLUDED.proj_showcase,
                   proj_review_sum = r.proj_review_sum + EXCLUDED.proj_review_sum,
                   proj_review_n = r.proj_review_n + EXCLUDED.proj_review_n;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_activity_rollup_on_change() FROM PUBLIC;
