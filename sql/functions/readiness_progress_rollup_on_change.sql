-- sql/functions/readiness_progress_rollup_on_change.sql
--      Trigger: keeps readiness_progress_rollups (one row per learner) exact under every change of
--      user_progress, once per statement over its transition tables.
--
-- Attached by 0079_readiness_progress_rollups.sql to INSERT, UPDATE and DELETE of the partitioned
-- user_progress (statement triggers with transition tables; cs-progress's upsert fires the INSERT
-- trigger for its new rows and the UPDATE trigger for the rows it changed). TRUNCATE recounts
-- every learner.
--  - INSERT adds each learner's new rows: counts and sums add, the access-time bounds widen, the
--    newest activity is the greater, the items' access times and study time join accessed. A plain
--    concatenation: the new items are arrays, and a stored map holds no nulls (every writer strips
--    them or builds the map from arrays), so jsonb_strip_nulls, a second pass over the whole map,
--    would remove nothing.
--  - UPDATE adds new minus old per learner. The sums stay exact; accessed takes the new rows'
--    items and drops the old rows' items no new row replaces (merged as JSON nulls, then
--    stripped: the strip, a second pass over the whole map, runs only when there is such an item;
--    cs-progress's updates keep theirs, session 14); the access-time bounds only widen
--    (accessed_lo <= every row's last_accessed_at <= accessed_hi stays true; they may be wider than
--    the rows, which only makes the reader fall back to the rows); last_event_at stays exact as
--    long as no row's last_event_at went back (cs-progress only moves it forward): a learner with
--    a row moved back, or moved to another key, is recounted from its rows.
--  - DELETE (erasure's cascade, retention) recounts the learners it touched from their rows.
-- The rows' learners are applied in key order (concurrent batches lock rollup rows in one order).
-- Career-critical is an EXISTS on content_chunks per completed row: as an IN over the critical
-- items it scanned content_chunks (~2.7 ms) in each of the ~290 statements of a 1,000,000-event
-- drain; PostgreSQL runs the EXISTS as a hashed subplan too, whose hash table is now built from
-- the partial index of the critical ids (0103) instead of a scan of the table.
-- depends: readiness_progress_rollup_recount

CREATE OR REPLACE FUNCTION readiness_progress_rollup_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    back uuid[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM public.readiness_progress_rollup_recount(NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM public.readiness_progress_rollup_recount(ARRAY(SELECT DISTINCT o.user_id FROM old_rows o));
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO public.readiness_progress_rollups AS r
        SELECT n.user_id, count(*),
               count(*) FILTER (WHERE n.status IN ('completed', 'mastered')),
               count(*) FILTER (WHERE n.status IN ('completed', 'mastered') AND EXISTS
                                (SELECT 1 FROM public.content_chunks cc WHERE cc.content_id = n.content_id AND cc.is_career_critical)),
               coalesce(sum(n.best_score), 0), count(n.best_score),
               coalesce(sum(n.time_spent_seconds) FILTER (WHERE n.last_accessed_at IS NOT NULL), 0),
               min(n.last_accessed_at), max(n.last_accessed_at), max(n.last_event_at),
               coalesce(jsonb_object_agg(n.content_id, jsonb_build_array(
                            (extract(epoch FROM n.last_accessed_at) * 1000000)::bigint, n.time_spent_seconds))
                        FILTER (WHERE n.last_accessed_at IS NOT NULL AND n.time_spent_seconds > 0), '{}')
          FROM new_rows n
         GROUP BY n.user_id
         ORDER BY n.user_id
        ON CONFLICT (user_id) DO UPDATE
           SET started = r.started + EXCLUDED.started, completed = r.completed + EXCLUDED.completed,
               critical = r.critical + EXCLUDED.critical, score_sum = r.score_sum + EXCLUDED.score_sum,
               score_n = r.score_n + EXCLUDED.score_n, secs_sum = r.secs_sum + EXCLUDED.secs_sum,
               accessed_lo = least(r.accessed_lo, EXCLUDED.accessed_lo),
               accessed_hi = greatest(r.accessed_hi, EXCLUDED.accessed_hi),
               last_event_at = greatest(r.last_event_at, EXCLUDED.last_event_at),
               accessed = r.accessed || EXCLUDED.accessed;
    ELSE
        INSERT INTO public.readiness_progress_rollups AS r
        SELECT d.user_id, sum(d.s),
               coalesce(sum(d.s) FILTER (WHERE d.status IN ('completed', 'mastered')), 0),
               coalesce(sum(d.s) FILTER (WHERE d.status IN ('completed', 'mastered') AND EXISTS
                                (SELECT 1 FROM public.content_chunks cc WHERE cc.content_id = d.content_id AND cc.is_career_critical)), 0),
               coalesce(sum(d.s * d.best_score), 0), coalesce(sum(d.s) FILTER (WHERE d.best_score IS NOT NULL), 0),
               coalesce(sum(d.s * d.time_spent_seconds) FILTER (WHERE d.last_accessed_at IS NOT NULL), 0),
               min(d.last_accessed_at) FILTER (WHERE d.s = 1), max(d.last_accessed_at) FILTER (WHERE d.s = 1),
               max(d.last_event_at) FILTER (WHERE d.s = 1),
               -- the new rows' items, and as null (removed) the old rows' items no new row replaces
               coalesce(jsonb_object_agg(d.content_id, CASE WHEN d.s = 1 THEN jsonb_build_array(
                            (extract(epoch FROM d.last_accessed_at) * 1000000)::bigint, d.time_spent_seconds) END)
                        FILTER (WHERE CASE WHEN d.s = 1 THEN d.last_accessed_at IS NOT NULL AND d.time_spent_seconds > 0
                                           ELSE NOT d.replaced END), '{}')
          FROM (SELECT 1 AS s, n.user_id, n.content_id, n.status, n.best_score, n.time_spent_seconds,
                       n.last_accessed_at, n.last_event_at, NULL::boolean AS replaced FROM new_rows n
                UNION ALL
                SELECT -1, o.user_id, o.content_id, o.status, o.best_score, o.time_spent_seconds,
                       o.last_accessed_at, o.last_event_at, k.user_id IS NOT NULL
                  FROM old_rows o
                  -- (user_id, content_id) is unique among the new rows: one match at most
                  LEFT JOIN new_rows k ON k.user_id = o.user_id AND k.content_id = o.content_id
                                      AND k.last_accessed_at IS NOT NULL AND k.time_spent_seconds > 0) d
         GROUP BY d.user_id
         ORDER BY d.user_id
        ON CONFLICT (user_id) DO UPDATE
           SET started = r.started + EXCLUDED.started, completed = r.completed + EXCLUDED.completed,
               critical = r.critical + EXCLUDED.critical, score_sum = r.score_sum + EXCLUDED.score_sum,
               score_n = r.score_n + EXCLUDED.score_n, secs_sum = r.secs_sum + EXCLUDED.secs_sum,
               accessed_lo = least(r.accessed_lo, EXCLUDED.accessed_lo),
               accessed_hi = greatest(r.accessed_hi, EXCLUDED.accessed_hi),
               last_event_at = greatest(r.last_event_at, EXCLUDED.last_event_at),
               -- a second pass over the whole map only when some item is removed
               accessed = CASE WHEN jsonb_path_exists(EXCLUDED.accessed, '$.* ? (@ == null)')
                               THEN jsonb_strip_nulls(r.accessed || EXCLUDED.accessed)
                               ELSE r.accessed || EXCLUDED.accessed END;
        back := ARRAY(SELECT DISTINCT o.user_id FROM old_rows o
                       WHERE NOT EXISTS (SELECT 1 FROM new_rows n
                                          WHERE n.user_id = o.user_id AND n.content_id = o.content_id
                                            AND n.last_event_at >= o.last_event_at));
        IF cardinality(back) > 0 THEN
            PERFORM public.readiness_progress_rollup_recount(back);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_progress_rollup_on_change() FROM PUBLIC;
