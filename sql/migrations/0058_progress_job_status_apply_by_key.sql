-- sql/migrations/0058_progress_job_status_apply_by_key.sql
--      The status changes job_status_history_apply makes do not run the history trigger that
--      would only find their own history rows.
--
-- Measured over 1,000,000-event cs-progress drains (61,753 applications, 95,563 status updates,
-- 158,814 history rows at the end): every status the function changed fired
-- trg_job_applications_status_history (0051), a PL/pgSQL row trigger whose NOT EXISTS found the
-- history row of the causing event, always present: the UPDATE sets last_event_id to that row's
-- event_id whenever it changes the status (1.0-1.2 s per 1,000,000 events). The trigger's WHEN
-- clause now also skips it while job_status_history_apply (sql/functions/) applies history (a
-- transaction-local setting, cs.applying_job_history, set around its UPDATE and put back after
-- it), unless last_event_id is NULL (a history row without an event id: then the trigger runs and
-- checks as before). The trigger is skipped only where its check would have found the row.
-- requires: job_applications_record_status, job_status_history_apply

DROP TRIGGER trg_job_applications_status_history ON job_applications;
CREATE TRIGGER trg_job_applications_status_history AFTER UPDATE OF status ON job_applications
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND (NEW.last_event_id IS NULL
               OR current_setting('cs.applying_job_history', true) IS DISTINCT FROM 'on'))
    EXECUTE FUNCTION job_applications_record_status();
