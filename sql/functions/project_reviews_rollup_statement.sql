-- sql/functions/project_reviews_rollup_statement.sql
--      Trigger: the portfolio review roll-up, once per statement over the projects it touched.
--
-- Attached by 0051_progress_set_triggers.sql to INSERT, UPDATE and DELETE of project_reviews
-- (transition tables allow one event per trigger). It plans without hash or merge joins and
-- without sequential scans of tables (the SET clauses): PL/pgSQL keeps the first plan of a
-- statement that reads a transition table, and the one chosen on tiny tables read all 4,903
-- reviews and projects to roll up 8 projects. It looks up a statement's keys through
-- project_reviews (project_user_id, project_id) and the projects' primary key, pruned to one hash
-- partition per key at run time: 267 -> 222 ms over a 300,000-event drain.
-- It sets updated_at itself (clock_timestamp(), what the row trigger would give), so
-- trg_user_portfolio_projects_updated_at skips its PL/pgSQL call (0104).

-- Portfolio review roll-up, once per statement over the projects it touched.
CREATE OR REPLACE FUNCTION project_reviews_rollup_statement() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
DECLARE
    uids uuid[];
    pids uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(k.uid), array_agg(k.pid) INTO uids, pids
          FROM (SELECT DISTINCT n.project_user_id AS uid, n.project_id AS pid FROM new_reviews n
                 WHERE n.project_user_id IS NOT NULL) k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.uid), array_agg(k.pid) INTO uids, pids
          FROM (SELECT n.project_user_id AS uid, n.project_id AS pid FROM new_reviews n
                 WHERE n.project_user_id IS NOT NULL
                UNION
                SELECT o.project_user_id, o.project_id FROM old_reviews o
                 WHERE o.project_user_id IS NOT NULL) k;
    ELSE
        SELECT array_agg(k.uid), array_agg(k.pid) INTO uids, pids
          FROM (SELECT DISTINCT o.project_user_id AS uid, o.project_id AS pid FROM old_reviews o
                 WHERE o.project_user_id IS NOT NULL) k;
    END IF;
    IF uids IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE public.user_portfolio_projects p
       SET review_count = s.n,
           avg_review_score = s.avg_score,
           showcase_ready = s.ready,
           showcase_ready_at = CASE WHEN s.ready THEN coalesce(p.showcase_ready_at, now()) END,
           showcase_checklist = jsonb_build_object('reviews', s.n, 'avg_score', s.avg_score,
                                                  'expert_recommended', s.recommended),
           updated_at = pg_catalog.clock_timestamp()
      FROM (SELECT k.uid, k.pid,
                   count(pr.review_id)::int AS n,
                   round(avg(pr.overall_score), 2) AS avg_score,
                   coalesce(bool_or(pr.recommends_showcase AND pr.reviewer_type IN ('mentor', 'industry_expert')), false) AS recommended,
                   count(pr.review_id) >= 2 AND coalesce(avg(pr.overall_score), 0) >= 80
                       AND coalesce(bool_or(pr.recommends_showcase AND pr.reviewer_type IN ('mentor', 'industry_expert')), false) AS ready
              FROM unnest(uids, pids) AS k(uid, pid)
              LEFT JOIN public.project_reviews pr ON pr.project_user_id = k.uid AND pr.project_id = k.pid
             GROUP BY k.uid, k.pid) s
     WHERE p.user_id = s.uid AND p.project_id = s.pid;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION project_reviews_rollup_statement() FROM PUBLIC;
