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
-- requires: job_status_history_apply, job_applications_from_history

ALTER TABLE job_application_status_history
    ADD COLUMN interview_round  smallint      CHECK (interview_round BETWEEN 1 AND 50),
    ADD COLUMN offer_salary     numeric(12,2) CHECK (offer_salary >= 0),
    ADD COLUMN rejection_reason text;

-- cs-progress appends the history itself (0024 gave it job_applications only).
GRANT SELECT, INSERT ON job_application_status_history TO cs_worker_progress;
CREATE POLICY worker_progress ON job_application_status_history FOR ALL TO cs_worker_progress
    USING (true) WITH CHECK (true);

CREATE TRIGGER trg_job_status_history_apply AFTER INSERT ON job_application_status_history
    REFERENCING NEW TABLE AS new_history
    FOR EACH STATEMENT EXECUTE FUNCTION job_status_history_apply();

CREATE TRIGGER trg_job_applications_from_history BEFORE INSERT ON job_applications
    FOR EACH ROW EXECUTE FUNCTION job_applications_from_history();
