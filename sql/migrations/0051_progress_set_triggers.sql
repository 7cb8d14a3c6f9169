-- sql/migrations/0051_progress_set_triggers.sql
--      Triggers on the tables cs-progress writes a batch at a time, made set-based: the same
--      effects, one statement per statement instead of one per row.
--
-- Measured with pg_stat_statements over a 300,000-event cs-progress drain (README, cs-progress):
-- the per-row triggers cost more than the rows they follow.
--   * trg_job_applications_status_history (0020) ran for every inserted application and every
--     status change: one INSERT .. ON CONFLICT DO NOTHING into the history each, which fired the
--     history's statement trigger (0050) each time, an UPDATE of job_applications over an empty
--     set. cs-progress always writes the causing event's history row itself (0050), so all of
--     it did nothing, at ~80 us a row.
--     Now: the initial status of inserted applications is recorded by one statement trigger
--     (trg_job_applications_initial_status, from the statement's transition table), and the row
--     trigger on UPDATE OF status fires only when the status really changes (WHEN clause) and
--     inserts only when the causing event's history row is missing. The history rows written
--     are the same ones: an AFTER trigger sees the whole statement's effects either way, and ON
--     CONFLICT (event_id) DO NOTHING keeps the first of duplicate event ids, in statement order.
--   * job_status_history_apply (0050) returns at once when its transition table is empty.
--   * trg_project_reviews_rollup (0020) recomputed a project's review roll-up once per review
--     row (~250 us each, an UPDATE of the partitioned user_portfolio_projects with a generic
--     plan). AFTER row triggers run after the statement and each one read every review of the
--     project, so every run computed the statement's final roll-up: one UPDATE per statement
--     over the distinct projects of the transition tables computes the same rows (and
--     showcase_ready_at = coalesce(showcase_ready_at, now()) once instead of n times).
--     Transition tables allow one event per trigger: three triggers share the function.

-- 1. Job application status history.
CREATE FUNCTION job_applications_record_initial_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO public.job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
    SELECT n.application_id, n.user_id, coalesce(n.last_event_id, n.event_id), NULL, n.status, n.status_changed_at
      FROM new_applications n
     WHERE NOT EXISTS (SELECT 1 FROM public.job_application_status_history h
                        WHERE h.event_id = coalesce(n.last_event_id, n.event_id))
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION job_applications_record_initial_status() FROM PUBLIC;

-- A status change (UPDATE only now): recorded once with its event, unless already recorded.
CREATE OR REPLACE FUNCTION job_applications_record_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM public.job_application_status_history h
                        WHERE h.event_id = coalesce(NEW.last_event_id, NEW.event_id)) THEN
            INSERT INTO public.job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
            VALUES (NEW.application_id, NEW.user_id, coalesce(NEW.last_event_id, NEW.event_id),
                    CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.status_changed_at)
            ON CONFLICT (event_id) DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER trg_job_applications_status_history ON job_applications;
CREATE TRIGGER trg_job_applications_status_history AFTER UPDATE OF status ON job_applications
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION job_applications_record_status();
CREATE TRIGGER trg_job_applications_initial_status AFTER INSERT ON job_applications
    REFERENCING NEW TABLE AS new_applications
    FOR EACH STATEMENT EXECUTE FUNCTION job_applications_record_initial_status();

-- 2. The history's statement trigger: nothing to apply for an empty statement.
CREATE OR REPLACE FUNCTION job_status_history_apply() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_history) THEN
        RETURN NULL;
    END IF;
    UPDATE public.job_applications ja
       SET status            = CASE WHEN s.changed_at > ja.status_changed_at THEN s.to_status ELSE ja.status END,
           last_event_id     = CASE WHEN s.changed_at > ja.status_changed_at THEN s.event_id ELSE ja.last_event_id END,
           status_changed_at = greatest(ja.status_changed_at, s.changed_at),
           interview_rounds  = greatest(ja.interview_rounds, coalesce(s.max_round, 0)),
           offer_salary      = coalesce(s.offer_salary, ja.offer_salary),
           rejection_reason  = coalesce(s.rejection_reason, ja.rejection_reason)
      FROM (SELECT n.application_id, n.user_id,
                   (array_agg(n.to_status ORDER BY n.changed_at DESC, n.event_id DESC))[1] AS to_status,
                   (array_agg(n.event_id ORDER BY n.changed_at DESC, n.event_id DESC))[1] AS event_id,
                   max(n.changed_at) AS changed_at,
                   max(n.interview_round) AS max_round,
                   (array_agg(n.offer_salary ORDER BY n.changed_at DESC)
                        FILTER (WHERE n.offer_salary IS NOT NULL))[1] AS offer_salary,
                   (array_agg(n.rejection_reason ORDER BY n.changed_at DESC)
                        FILTER (WHERE n.rejection_reason IS NOT NULL))[1] AS rejection_reason
              FROM new_history n
             GROUP BY n.application_id, n.user_id) s
     WHERE ja.application_id = s.application_id AND ja.user_id = s.user_id
       AND (s.changed_at > ja.status_changed_at
            OR coalesce(s.max_round, 0) > ja.interview_rounds
            OR s.offer_salary IS DISTINCT FROM NULL AND s.offer_salary IS DISTINCT FROM ja.offer_salary
            OR s.rejection_reason IS DISTINCT FROM NULL AND s.rejection_reason IS DISTINCT FROM ja.rejection_reason);
    RETURN NULL;
END
$$;

-- 3. Portfolio review roll-up, once per statement over the projects it touched.
CREATE FUNCTION project_reviews_rollup_statement() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
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
                                                  'expert_recommended', s.recommended)
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

DROP TRIGGER trg_project_reviews_rollup ON project_reviews;
CREATE TRIGGER trg_project_reviews_rollup AFTER INSERT ON project_reviews
    REFERENCING NEW TABLE AS new_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_rollup_statement();
CREATE TRIGGER trg_project_reviews_rollup_update AFTER UPDATE ON project_reviews
    REFERENCING OLD TABLE AS old_reviews NEW TABLE AS new_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_rollup_statement();
CREATE TRIGGER trg_project_reviews_rollup_delete AFTER DELETE ON project_reviews
    REFERENCING OLD TABLE AS old_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_rollup_statement();
