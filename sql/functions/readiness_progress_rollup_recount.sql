-- sql/functions/readiness_progress_rollup_recount.sql
--      Recounts learners' readiness_progress_rollups rows from user_progress (NULL: every learner).
--
-- The exact fallback of the roll-up's triggers (readiness_progress_rollup_on_change: deleted rows,
-- an activity time moved back; readiness_progress_rollup_on_content: content made career-critical
-- or not) and the migration's backfill. Each column is what career_readiness_inputs_batch
-- computed from the rows before migration 0079; a learner without rows loses its row.
--
-- Concurrency (READ COMMITTED, as every worker runs): the learners' rows are locked first, and
-- the count is a later statement, so it sees every transaction that changed the learner's rows and
-- applied its delta before the lock; a transaction that has not applied its delta yet adds it on top
-- of the recount (its changes are not in the snapshot the count reads).

CREATE OR REPLACE FUNCTION readiness_progress_rollup_recount(p_user_ids uuid[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_user_ids IS NULL THEN
        LOCK TABLE public.readiness_progress_rollups IN SHARE ROW EXCLUSIVE MODE;
        DELETE FROM public.readiness_progress_rollups;
        INSERT INTO public.readiness_progress_rollups
        SELECT up.user_id, count(*),
               count(*) FILTER (WHERE up.status IN ('completed', 'mastered')),
               count(*) FILTER (WHERE up.status IN ('completed', 'mastered') AND up.content_id IN
                                (SELECT cc.content_id FROM public.content_chunks cc WHERE cc.is_career_critical)),
               coalesce(sum(up.best_score), 0), count(up.best_score),
               coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at IS NOT NULL), 0),
               min(up.last_accessed_at), max(up.last_accessed_at), max(up.last_event_at),
               coalesce(jsonb_object_agg(up.content_id, jsonb_build_array(
                            (extract(epoch FROM up.last_accessed_at) * 1000000)::bigint, up.time_spent_seconds))
                        FILTER (WHERE up.last_accessed_at IS NOT NULL AND up.time_spent_seconds > 0), '{}')
          FROM public.user_progress up
         GROUP BY up.user_id;
        RETURN;
    END IF;
    INSERT INTO public.readiness_progress_rollups (user_id)
    SELECT DISTINCT u.user_id FROM unnest(p_user_ids) AS u(user_id) WHERE u.user_id IS NOT NULL ORDER BY 1
    ON CONFLICT (user_id) DO NOTHING;
    PERFORM 1 FROM public.readiness_progress_rollups r WHERE r.user_id = ANY (p_user_ids)
      ORDER BY r.user_id FOR UPDATE;
    UPDATE public.readiness_progress_rollups r
       SET started = c.started, completed = c.completed, critical = c.critical,
           score_sum = c.score_sum, score_n = c.score_n, secs_sum = c.secs_sum,
           accessed_lo = c.accessed_lo, accessed_hi = c.accessed_hi, last_event_at = c.last_event_at,
           accessed = c.accessed
      FROM (SELECT u.user_id, a.*
              FROM (SELECT DISTINCT x.user_id FROM unnest(p_user_ids) AS x(user_id)) u
             CROSS JOIN LATERAL (
                   SELECT count(*)::int AS started,
                          count(*) FILTER (WHERE up.status IN ('completed', 'mastered'))::int AS completed,
                          count(*) FILTER (WHERE up.status IN ('completed', 'mastered') AND EXISTS
                                           (SELECT 1 FROM public.content_chunks cc
                                             WHERE cc.content_id = up.content_id AND cc.is_career_critical))::int AS critical,
                          coalesce(sum(up.best_score), 0) AS score_sum, count(up.best_score)::int AS score_n,
                          coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at IS NOT NULL), 0)::bigint AS secs_sum,
                          min(up.last_accessed_at) AS accessed_lo, max(up.last_accessed_at) AS accessed_hi,
                          max(up.last_event_at) AS last_event_at,
                          coalesce(jsonb_object_agg(up.content_id, jsonb_build_array(
                                       (extract(epoch FROM up.last_accessed_at) * 1000000)::bigint, up.time_spent_seconds))
                                   FILTER (WHERE up.last_accessed_at IS NOT NULL AND up.time_spent_seconds > 0), '{}') AS accessed
                     FROM public.user_progress up WHERE up.user_id = u.user_id) a) c
     WHERE r.user_id = c.user_id;
    DELETE FROM public.readiness_progress_rollups r WHERE r.user_id = ANY (p_user_ids) AND r.started = 0;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_progress_rollup_recount(uuid[]) FROM PUBLIC;
