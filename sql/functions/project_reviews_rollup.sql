-- sql/functions/project_reviews_rollup.sql
--      The per-row portfolio review roll-up (no trigger uses it since 0051).
--
-- Superseded by project_reviews_rollup_statement(); kept because the schema has always had it.

-- Portfolio review roll-up and showcase readiness (the one place the rule lives):
-- at least two reviews, average overall_score >= 80, and a mentor or industry expert who
-- recommends showcasing it.
CREATE OR REPLACE FUNCTION project_reviews_rollup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT k.uid, k.pid
               FROM (VALUES (CASE WHEN TG_OP <> 'DELETE' THEN NEW.project_user_id END,
                             CASE WHEN TG_OP <> 'DELETE' THEN NEW.project_id END),
                            (CASE WHEN TG_OP <> 'INSERT' THEN OLD.project_user_id END,
                             CASE WHEN TG_OP <> 'INSERT' THEN OLD.project_id END)) AS k(uid, pid)
              WHERE k.uid IS NOT NULL
    LOOP
        UPDATE public.user_portfolio_projects p
           SET review_count = s.n,
               avg_review_score = s.avg_score,
               showcase_ready = s.ready,
               showcase_ready_at = CASE WHEN s.ready THEN coalesce(p.showcase_ready_at, now()) END,
               showcase_checklist = jsonb_build_object('reviews', s.n, 'avg_score', s.avg_score,
                                                      'expert_recommended', s.recommended)
          FROM (SELECT count(*)::int AS n,
                       round(avg(pr.overall_score), 2) AS avg_score,
                       coalesce(bool_or(pr.recommends_showcase AND pr.reviewer_type IN ('mentor', 'industry_expert')), false) AS recommended,
                       count(*) >= 2 AND coalesce(avg(pr.overall_score), 0) >= 80
                           AND coalesce(bool_or(pr.recommends_showcase AND pr.reviewer_type IN ('mentor', 'industry_expert')), false) AS ready
                  FROM public.project_reviews pr
                 WHERE pr.project_user_id = r.uid AND pr.project_id = r.pid) s
         WHERE p.user_id = r.uid AND p.project_id = r.pid;
    END LOOP;
    RETURN NULL;
END
$$;
