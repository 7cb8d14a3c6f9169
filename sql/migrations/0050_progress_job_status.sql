-- sql/migrations/0050_progress_job_status.sql
--      Job application status events, whatever their order: status history as the record of
--      every status event, applied to job_applications set-based (owned by cs-progress).
--
-- job_applications is keyed by (application_id, applied_at) and partitioned by applied_at, but an
-- application_status_changed event names only application_id: it cannot be an upsert of
-- job_applications, and it may arrive before the job_application_submitted event that creates
-- the application (different producers, replays). So cs-progress appends every status event
-- (and the initial 'applied' of every submitted event) to job_application_status_history, keyed
-- by event_id, and the history is what reaches job_applications:
--   * trg_job_status_history_apply (statement level, once per cs-progress flush) moves each
--     application touched by the new history rows to its newest status, newest by changed_at
--     (the event's occurred_at); an older event never overwrites a newer status;
--   * trg_job_applications_from_history (before insert) lets an application that arrives after
--     some of its status events start from the newest of them, so a late submitted event
--     completes the application without regressing its status.
-- Replays add nothing (history is unique on event_id, ON CONFLICT DO NOTHING), and any order of
-- the same events converges to the same rows. The history trigger of 0020
-- (job_applications_record_status) keeps working for status changes made by the apps; for the
-- changes made here it finds the history row of the causing event already present.

ALTER TABLE job_application_status_history
    ADD COLUMN interview_round  smallint      CHECK (interview_round BETWEEN 1 AND 50),
    ADD COLUMN offer_salary     numeric(12,2) CHECK (offer_salary >= 0),
    ADD COLUMN rejection_reason text;

-- cs-progress appends the history itself (0024 gave it job_applications only).
GRANT SELECT, INSERT ON job_application_status_history TO cs_worker_progress;
CREATE POLICY worker_progress ON job_application_status_history FOR ALL TO cs_worker_progress
    USING (true) WITH CHECK (true);

-- New history rows (the statement's transition table) -> job_applications, one UPDATE.
CREATE FUNCTION job_status_history_apply() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
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
CREATE TRIGGER trg_job_status_history_apply AFTER INSERT ON job_application_status_history
    REFERENCING NEW TABLE AS new_history
    FOR EACH STATEMENT EXECUTE FUNCTION job_status_history_apply();

-- A new application starts from the newest status its history already holds.
CREATE FUNCTION job_applications_from_history() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    h record;
BEGIN
    SELECT (array_agg(x.to_status ORDER BY x.changed_at DESC, x.event_id DESC))[1] AS to_status,
           (array_agg(x.event_id ORDER BY x.changed_at DESC, x.event_id DESC))[1] AS event_id,
           max(x.changed_at) AS changed_at,
           max(x.interview_round) AS max_round,
           (array_agg(x.offer_salary ORDER BY x.changed_at DESC)
                FILTER (WHERE x.offer_salary IS NOT NULL))[1] AS offer_salary,
           (array_agg(x.rejection_reason ORDER BY x.changed_at DESC)
                FILTER (WHERE x.rejection_reason IS NOT NULL))[1] AS rejection_reason
      INTO h
      FROM public.job_application_status_history x
     WHERE x.application_id = NEW.application_id AND x.user_id = NEW.user_id;
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
CREATE TRIGGER trg_job_applications_from_history BEFORE INSERT ON job_applications
    FOR EACH ROW EXECUTE FUNCTION job_applications_from_history();
