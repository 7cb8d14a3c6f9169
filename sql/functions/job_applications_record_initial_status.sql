-- sql/functions/job_applications_record_initial_status.sql
--      Trigger: the initial status of inserted job applications, once per statement.
--
-- Attached by 0051_progress_set_triggers.sql (AFTER INSERT, transition table new_applications)
-- until 0078, whose job_applications_inserted records the initial status now (of the row as
-- folded from its history).
-- It plans without hash or merge joins and without sequential scans of tables (the SET clauses):
-- PL/pgSQL keeps the first, generic plan of a statement that reads a transition table, and the
-- plans chosen for cs-progress' first batch, on tiny tables, were hash joins over a sequential
-- scan of the whole history, growing with it (the NOT EXISTS read all 32,222 history rows to
-- check 12 applications, 5.6 ms). It looks up a statement's keys through history (event_id):
-- 182 -> 66 ms over a 300,000-event drain.

-- Job application status history.
CREATE OR REPLACE FUNCTION job_applications_record_initial_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
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
