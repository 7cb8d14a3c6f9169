-- sql/migrations/0053_progress_job_status_sorted.sql
--      The job status functions of 0050/0051 fold an application's history rows from one sorted
--      input instead of one sort per aggregate and application.
--
-- Both functions pick, per application, the newest status (changed_at, then event_id), the
-- deepest interview round and the newest offer salary and rejection reason that were given.
-- 0050 wrote each pick as its own ordered aggregate (array_agg(x ORDER BY ...)), which in
-- PostgreSQL 15 is a separate sort per aggregate and group: four sorts per application and
-- statement, and per inserted application in the before-insert trigger. Here the rows arrive
-- sorted newest first (changed_at DESC, event_id DESC) from a subquery and the aggregates take
-- the first value: the same picks, where "newest" between equal changed_at now always means the
-- greater event_id (0050 left the salary's and the reason's tie order to the sort).

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
                   (array_agg(n.to_status))[1] AS to_status,
                   (array_agg(n.event_id))[1] AS event_id,
                   max(n.changed_at) AS changed_at,
                   max(n.interview_round) AS max_round,
                   (array_agg(n.offer_salary) FILTER (WHERE n.offer_salary IS NOT NULL))[1] AS offer_salary,
                   (array_agg(n.rejection_reason) FILTER (WHERE n.rejection_reason IS NOT NULL))[1] AS rejection_reason
              FROM (SELECT * FROM new_history
                     ORDER BY application_id, user_id, changed_at DESC, event_id DESC) n
             GROUP BY n.application_id, n.user_id) s
     WHERE ja.application_id = s.application_id AND ja.user_id = s.user_id
       AND (s.changed_at > ja.status_changed_at
            OR coalesce(s.max_round, 0) > ja.interview_rounds
            OR s.offer_salary IS DISTINCT FROM NULL AND s.offer_salary IS DISTINCT FROM ja.offer_salary
            OR s.rejection_reason IS DISTINCT FROM NULL AND s.rejection_reason IS DISTINCT FROM ja.rejection_reason);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION job_applications_from_history() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    h record;
BEGIN
    SELECT (array_agg(x.to_status))[1] AS to_status,
           (array_agg(x.event_id))[1] AS event_id,
           max(x.changed_at) AS changed_at,
           max(x.interview_round) AS max_round,
           (array_agg(x.offer_salary) FILTER (WHERE x.offer_salary IS NOT NULL))[1] AS offer_salary,
           (array_agg(x.rejection_reason) FILTER (WHERE x.rejection_reason IS NOT NULL))[1] AS rejection_reason
      INTO h
      FROM (SELECT * FROM public.job_application_status_history y
             WHERE y.application_id = NEW.application_id AND y.user_id = NEW.user_id
             ORDER BY y.changed_at DESC, y.event_id DESC) x;
    IF h.changed_at IS NULL THEN
        RETURN NEW;
    END IF;
    IF h.changed_at > NEW.status_changed_at THEN
        NEW.status := h.to_status;
        NEW.status_changed_at := h.changed_at;
        NEW.last_event_id := h.event_id;
    END IF;
    NEW.interview_rounds := greatest(NEW.interview_rounds, coalesce(h.max_round, 0));
    NEW.offer_salary := coalesce(h.offer_salary, NEW.offer_salary);
    NEW.rejection_reason := coalesce(h.rejection_reason, NEW.rejection_reason);
    RETURN NEW;
END
$$;
