-- sql/migrations/0054_progress_trigger_plans.sql
--      Two set-based triggers of 0051 look a statement's rows up by key, whatever the tables'
--      statistics say.
--
-- A PL/pgSQL function prepares each of its statements once per session and keeps the plan; a
-- statement without parameters (these read transition tables) keeps its first, generic plan
-- until something invalidates it (an ANALYZE of a table it reads). cs-progress starts on fresh
-- or small tables and grows them by thousands of rows a second, so the plans chosen for the
-- first batch, when the tables were a page or two, were hash joins over a sequential scan of the
-- whole looked-up table, and each batch read more. Measured with auto_explain late in a
-- 300,000-event drain:
--   * job_applications_record_initial_status: the NOT EXISTS read all 32,222 history rows to
--     check the 12 applications of one statement (5.6 ms);
--   * project_reviews_rollup_statement: read all 4,903 reviews and all 4,903 projects to roll
--     up 8 projects (4.6 ms).
-- Both look up a statement's keys, never most of a table, through a unique or leading-key index
-- (history (event_id); project_reviews (project_user_id, project_id) and the projects' primary
-- key, pruned to one hash partition per key at run time). So these functions plan without hash
-- or merge joins and without sequential scans of tables: the same statements and rows, a cost
-- that follows the statement's rows instead of the tables' (the transition table or the unnest
-- is still read once). Over a 300,000-event drain: the initial-status trigger 182 -> 66 ms, the
-- roll-up 267 -> 222 ms, growing apart with the tables.
-- Not job_status_history_apply (0053): its UPDATE reaches job_applications by application_id
-- alone, which probes every one of the 14 range partitions per application: a batch's 873
-- history rows cost 20 ms that way against 5 ms for the hash join over 16,000 applications.
ALTER FUNCTION job_applications_record_initial_status()
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off;
ALTER FUNCTION project_reviews_rollup_statement()
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off;
