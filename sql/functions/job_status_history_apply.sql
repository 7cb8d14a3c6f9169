-- sql/functions/job_status_history_apply.sql
--      Trigger: new job status history rows -> job_applications, one UPDATE per statement.
--
-- Attached by 0050_progress_job_status.sql (AFTER INSERT, statement level, transition table
-- new_history), which explains why status history leads. Returns at once for an empty statement.
-- It folds each application's rows from one input sorted newest first (changed_at DESC, event_id
-- DESC), not one ordered aggregate (a sort each) per pick.
-- It first collects the statement's application ids and the UPDATE reads only those,
-- `application_id = ANY (ids)`: one index scan of each partition's primary key (application_id
-- leads it) for all of them, where the plan PL/pgSQL kept from the first batch was a hash join
-- over a sequential scan of every application (6.1-7.9 s over 1,000,000-event drains, growing
-- with the table). The status changes it makes do not run trg_job_applications_status_history,
-- which would only find their own history rows: the transaction-local setting
-- cs.applying_job_history is on around the UPDATE (and put back after it), and the trigger's WHEN
-- clause (0058) skips it then, unless last_event_id is NULL.
-- It sets updated_at itself (clock_timestamp(), what the row trigger would give), so
-- trg_job_applications_updated_at skips its PL/pgSQL call (0104).

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
           rejection_reason  = coalesce(s.rejection_reason, ja.rejection_reason),
           updated_at        = pg_catalog.clock_timestamp()
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
