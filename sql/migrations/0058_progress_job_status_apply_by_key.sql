-- sql/migrations/0058_progress_job_status_apply_by_key.sql
--      job_status_history_apply (0050, 0053) finds a statement's applications through the key
--      index instead of reading every application, and the status changes it makes do not run
--      the history trigger that would only find their own history rows.
--
-- Measured over 1,000,000-event cs-progress drains (61,753 applications, 95,563 status updates,
-- 158,814 history rows at the end): the function took 6.1-7.9 s, about a tenth of PostgreSQL's
-- time, growing with the table:
--   * its UPDATE joined the statement's history rows to job_applications by a hash join over a
--     sequential scan of every application (the plan PL/pgSQL keeps from the first batch, when
--     the table was small; job_applications' partition key is applied_at, which a status event
--     does not know, so a nested loop would probe each of the 14 partitions per application).
--     Now the function first collects the statement's application ids and the UPDATE reads
--     only those, `application_id = ANY (ids)`: one index scan of each partition's primary key
--     (application_id leads it) for all of them;
--   * every status it changes fired trg_job_applications_status_history (0051), a PL/pgSQL row
--     trigger whose NOT EXISTS found the history row of the causing event, always present: the
--     UPDATE sets last_event_id to that row's event_id whenever it changes the status (1.0-1.2 s
--     per 1,000,000 events). The trigger's WHEN clause now also skips it while this function
--     applies history (a transaction-local setting, cs.applying_job_history, set around the
--     UPDATE and put back after it), unless last_event_id is NULL (a history row without an
--     event id: then the trigger runs and checks as before).
-- Same rows: the UPDATE's set and values are unchanged (the ANY is implied by the join), and the
-- trigger is skipped only where its check would have found the row.
CREATE OR REPLACE FUNCTION job_status_history_apply() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_seqscan = off
AS $$
DECLARE
    ids uuid[];
    was text;
BEGIN
    SELECT array_agg(DISTINCT n.application_id) INTO ids FROM new_history n;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    was := current_setting('cs.applying_job_history', true);
    PERFORM set_config('cs.applying_job_history', 'on', true);
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
     WHERE ja.application_id = ANY (ids)
       AND ja.application_id = s.application_id AND ja.user_id = s.user_id
       AND (s.changed_at > ja.status_changed_at
            OR coalesce(s.max_round, 0) > ja.interview_rounds
            OR s.offer_salary IS DISTINCT FROM NULL AND s.offer_salary IS DISTINCT FROM ja.offer_salary
            OR s.rejection_reason IS DISTINCT FROM NULL AND s.rejection_reason IS DISTINCT FROM ja.rejection_reason);
    PERFORM set_config('cs.applying_job_history', coalesce(was, ''), true);
    RETURN NULL;
END
$$;

DROP TRIGGER trg_job_applications_status_history ON job_applications;
CREATE TRIGGER trg_job_applications_status_history AFTER UPDATE OF status ON job_applications
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND (NEW.last_event_id IS NULL
               OR current_setting('cs.applying_job_history', true) IS DISTINCT FROM 'on'))
    EXECUTE FUNCTION job_applications_record_status();
