-- sql/functions/job_applications_from_history.sql
--      Trigger: a new job application starts from the newest status its history holds.
--
-- Attached by 0050_progress_job_status.sql (BEFORE INSERT ON job_applications), which explains
-- why status history leads; since 0078 only for a row whose interview_rounds is NULL (cs-progress
-- folds its rows in its INSERT, and job_applications_inserted folds other rows set-based). The fold picks the newest status (changed_at, then event_id), the
-- deepest interview round and the newest offer salary and rejection reason that were given, from
-- one input sorted newest first (changed_at DESC, event_id DESC) whose aggregates take the first
-- value: ordered aggregates (array_agg(x ORDER BY ...)) are a separate sort per aggregate and
-- group in PostgreSQL 15.
-- The fold changes NEW only when a history row is newer than NEW's status, or names an interview
-- round deeper than NEW's, an offer salary or a rejection reason; otherwise every assignment keeps
-- NEW as it is (given an interview_rounds, which the fold would also turn from NULL into a
-- number). So an EXISTS over the same rows with those conditions decides first, and only an
-- application that will change is folded: cs-progress writes a submitted application's own
-- 'applied' history row just before the application, so the history is never empty, and the
-- fold ran for every application only to find that row (over a 300,000-event drain 16,086
-- applications cost the trigger 355-720 ms, the largest share of inserting them).

CREATE OR REPLACE FUNCTION job_applications_from_history() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    h record;
BEGIN
    IF NEW.interview_rounds IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM public.job_application_status_history y
                        WHERE y.application_id = NEW.application_id AND y.user_id = NEW.user_id
                          AND (y.changed_at > NEW.status_changed_at
                               OR y.interview_round > NEW.interview_rounds
                               OR y.offer_salary IS NOT NULL
                               OR y.rejection_reason IS NOT NULL)) THEN
        RETURN NEW;
    END IF;
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
