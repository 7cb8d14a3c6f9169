-- sql/functions/job_applications_inserted.sql
--      Trigger: inserted job applications start from their status history, and their initial
--      status is recorded once; one statement per INSERT statement.
--
-- Attached by 0078_progress_job_applications_set_based.sql (AFTER INSERT, statement level,
-- transition table new_applications), which replaced the statement trigger
-- trg_job_applications_initial_status (0051) with it and left the row trigger
-- trg_job_applications_from_history (0050) only to rows inserted with a NULL interview_rounds.
--
-- The rule is 0050's: an application starts from the newest status its history holds (newest by
-- changed_at, then event_id), the deepest interview round and the newest offer salary and
-- rejection reason given. cs-progress folds its rows that way in its own INSERT (workers/
-- progress.c, T_JOB), so for its rows this finds nothing to change; it applies the rule to rows
-- any other writer inserts:
--   * one read of each inserted application's history (a LATERAL aggregate: the history cannot
--     become the outer side of a join, which a plan made on the first, tiny batch would keep)
--     gives ids, the applications the fold of their history changes (the UPDATE's own test: a
--     newer status, a deeper round, a newest offer salary or rejection reason other than the
--     row's; until session 12 any history row with another salary or reason counted, so the
--     UPDATE ran for nothing in 40 of cs-progress's 41 statements a drain), and todo, those and
--     the ones whose initial status (the row's event) is not among their history rows; the read
--     is unsorted, and the history is sorted for the newest salary and reason only where some
--     row has another one than the row (sorting every row's made the probe 1.75x as costly);
--   * only for those, the history folded newest first, applied where it changes the row (with
--     cs.applying_job_history on, so trg_job_applications_status_history skips the status
--     changes it makes, as for job_status_history_apply: the causing history row is present;
--     it sets updated_at itself, so trg_job_applications_updated_at skips its call: 0104);
--   * the initial status of every inserted row is recorded, from the row as the fold left it (as
--     the BEFORE row trigger's NEW was), unless its event is in the history already: only todo's
--     rows are looked at, and without any (cs-progress's rows: it writes their 'applied' rows
--     first) the INSERT does not run, nor the history's statement trigger it would fire. Until
--     session 12 every row was probed again by event_id and the INSERT always ran: in a drain of
--     the 1,000,000-event stream, 41 statements inserting nothing in 1.4 s, plus 41 empty
--     job_status_history_apply calls (pg_stat_statements, loaded machine; tests/sql/21).
-- A row the fold changes here gets its updated_at from cs_touch_updated_at (the row trigger
-- changed NEW before the insert, so it kept the insert's).
-- Plans: PL/pgSQL keeps the first, generic plan of a statement over a transition table, so hash
-- and merge joins and sequential scans are off (a merge anti join read the whole history's
-- event_id index for 3,000 rows); the history is probed per row by application_id (user_id
-- compared with IS NOT DISTINCT FROM, which no index serves: both are NOT NULL, and the
-- planner otherwise probed idx_job_status_history_user, a learner's whole history per row) and
-- by event_id. JIT is off: the subplans' estimates put the initial-status INSERT above
-- jit_above_cost, and compiling it took 5.6 s for a 3,000-row statement (it runs in ~40 ms).
-- plan_cache_mode is force_generic_plan: the UPDATE and the initial-status INSERT read the
-- variable ids, so PL/pgSQL planned them afresh (custom plans) for a session's first five calls,
-- each over every partition of job_applications (six subplans of 14 partitions). Replaying
-- 2,000 of cs-progress' applications eight times in one session on a 200,000-event database,
-- calls 2-6 took 24-29 ms with custom plans and 14-17 ms with the generic plan, the time of the
-- seventh call on either way: the generic plan is the one PL/pgSQL settled on anyway, and
-- planning it once is the whole saving (~60 ms a session; the steady state is unchanged).

CREATE OR REPLACE FUNCTION job_applications_inserted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET jit = off
    SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    ids uuid[];
    todo uuid[];
    was text;
BEGIN
    -- changes: the UPDATE's own test below on the fold of the row's history; the newest offer
    -- salary and rejection reason (a sort of the row's history) only where some history row has
    -- another one than the row
    SELECT array_agg(n.application_id) FILTER (WHERE e.changes),
           array_agg(n.application_id) FILTER (WHERE e.changes OR NOT e.recorded)
      INTO ids, todo
      FROM new_applications n
     CROSS JOIN LATERAL (
           SELECT coalesce(h.changed_at > n.status_changed_at OR coalesce(h.max_round, 0) > n.interview_rounds, false)
                  OR CASE WHEN h.other THEN (
                         SELECT coalesce(f.offer_salary IS DISTINCT FROM NULL AND f.offer_salary IS DISTINCT FROM n.offer_salary
                                         OR f.rejection_reason IS DISTINCT FROM NULL
                                            AND f.rejection_reason IS DISTINCT FROM n.rejection_reason, false)
                           FROM (SELECT (array_agg(x.offer_salary) FILTER (WHERE x.offer_salary IS NOT NULL))[1] AS offer_salary,
                                        (array_agg(x.rejection_reason) FILTER (WHERE x.rejection_reason IS NOT NULL))[1] AS rejection_reason
                                   FROM (SELECT * FROM public.job_application_status_history y
                                          WHERE y.application_id = n.application_id AND y.user_id IS NOT DISTINCT FROM n.user_id
                                          ORDER BY y.changed_at DESC, y.event_id DESC) x) f)
                     ELSE false END AS changes,
                  h.recorded
             FROM (SELECT max(y.changed_at) AS changed_at, max(y.interview_round) AS max_round,
                          coalesce(bool_or(y.offer_salary IS NOT NULL AND y.offer_salary IS DISTINCT FROM n.offer_salary
                                           OR y.rejection_reason IS NOT NULL
                                              AND y.rejection_reason IS DISTINCT FROM n.rejection_reason), false) AS other,
                          coalesce(bool_or(y.event_id = coalesce(n.last_event_id, n.event_id)), false) AS recorded
                     FROM public.job_application_status_history y
                    WHERE y.application_id = n.application_id AND y.user_id IS NOT DISTINCT FROM n.user_id) h) e;
    IF ids IS NOT NULL THEN
        was := current_setting('cs.applying_job_history', true);
        PERFORM set_config('cs.applying_job_history', 'on', true);
        UPDATE public.job_applications ja
           SET status            = CASE WHEN f.changed_at > ja.status_changed_at THEN f.to_status ELSE ja.status END,
               last_event_id     = CASE WHEN f.changed_at > ja.status_changed_at THEN f.event_id ELSE ja.last_event_id END,
               status_changed_at = greatest(ja.status_changed_at, f.changed_at),
               interview_rounds  = greatest(ja.interview_rounds, coalesce(f.max_round, 0)),
               offer_salary      = coalesce(f.offer_salary, ja.offer_salary),
               rejection_reason  = coalesce(f.rejection_reason, ja.rejection_reason),
               updated_at        = pg_catalog.clock_timestamp()
          FROM (SELECT n.application_id, n.applied_at, h.*
                  FROM new_applications n
                 CROSS JOIN LATERAL (
                       SELECT (array_agg(x.to_status))[1] AS to_status,
                              (array_agg(x.event_id))[1] AS event_id,
                              max(x.changed_at) AS changed_at,
                              max(x.interview_round) AS max_round,
                              (array_agg(x.offer_salary) FILTER (WHERE x.offer_salary IS NOT NULL))[1] AS offer_salary,
                              (array_agg(x.rejection_reason) FILTER (WHERE x.rejection_reason IS NOT NULL))[1] AS rejection_reason
                         FROM (SELECT * FROM public.job_application_status_history y
                                WHERE y.application_id = n.application_id
                                  AND y.user_id IS NOT DISTINCT FROM n.user_id
                                ORDER BY y.changed_at DESC, y.event_id DESC) x) h
                 WHERE n.application_id = ANY (ids)) f
         WHERE ja.application_id = ANY (ids)
           AND ja.application_id = f.application_id AND ja.applied_at = f.applied_at
           AND (f.changed_at > ja.status_changed_at
                OR coalesce(f.max_round, 0) > ja.interview_rounds
                OR f.offer_salary IS DISTINCT FROM NULL AND f.offer_salary IS DISTINCT FROM ja.offer_salary
                OR f.rejection_reason IS DISTINCT FROM NULL AND f.rejection_reason IS DISTINCT FROM ja.rejection_reason);
        PERFORM set_config('cs.applying_job_history', coalesce(was, ''), true);
    END IF;
    -- The initial status, of the row as the fold left it (read again only where it ran: CASE
    -- runs the subquery only for those), for the rows that may lack it (todo).
    IF todo IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
    SELECT n.application_id, n.user_id, coalesce(k.last_event_id, n.event_id), NULL, k.status, k.status_changed_at
      FROM new_applications n
     CROSS JOIN LATERAL (
           SELECT CASE WHEN n.application_id = ANY (ids)
                       THEN (SELECT ja FROM public.job_applications ja
                              WHERE ja.application_id = n.application_id AND ja.applied_at = n.applied_at)
                  END AS cur) c
     CROSS JOIN LATERAL (
           SELECT CASE WHEN c.cur IS NULL THEN n.last_event_id ELSE (c.cur).last_event_id END AS last_event_id,
                  CASE WHEN c.cur IS NULL THEN n.status ELSE (c.cur).status END AS status,
                  CASE WHEN c.cur IS NULL THEN n.status_changed_at ELSE (c.cur).status_changed_at END AS status_changed_at) k
     WHERE n.application_id = ANY (todo)
       AND NOT EXISTS (SELECT 1 FROM public.job_application_status_history h
                        WHERE h.event_id = coalesce(k.last_event_id, n.event_id))
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION job_applications_inserted() FROM PUBLIC;
