-- sql/migrations/0051_progress_set_triggers.sql
--      Triggers on the tables cs-progress writes a batch at a time, made set-based: the same
--      effects, one statement per statement instead of one per row.
--
-- Measured with pg_stat_statements over a 300,000-event cs-progress drain (README, cs-progress):
-- the per-row triggers cost more than the rows they follow.
--   * trg_job_applications_status_history (0020) ran for every inserted application and every
--     status change: one INSERT .. ON CONFLICT DO NOTHING into the history each, which fired the
--     history's statement trigger (0050) each time, an UPDATE of job_applications over an empty
--     set. cs-progress always writes the causing event's history row itself (0050), so all of
--     it did nothing, at ~80 us a row.
--     Now: the initial status of inserted applications is recorded by one statement trigger
--     (trg_job_applications_initial_status, from the statement's transition table), and the row
--     trigger on UPDATE OF status fires only when the status really changes (WHEN clause) and
--     inserts only when the causing event's history row is missing. The history rows written
--     are the same ones: an AFTER trigger sees the whole statement's effects either way, and ON
--     CONFLICT (event_id) DO NOTHING keeps the first of duplicate event ids, in statement order.
--   * job_status_history_apply (0050) returns at once when its transition table is empty.
--   * trg_project_reviews_rollup (0020) recomputed a project's review roll-up once per review
--     row (~250 us each, an UPDATE of the partitioned user_portfolio_projects with a generic
--     plan). AFTER row triggers run after the statement and each one read every review of the
--     project, so every run computed the statement's final roll-up: one UPDATE per statement
--     over the distinct projects of the transition tables computes the same rows (and
--     showcase_ready_at = coalesce(showcase_ready_at, now()) once instead of n times).
--     Transition tables allow one event per trigger: three triggers share the function.
-- requires: job_applications_record_initial_status, job_applications_record_status, project_reviews_rollup_statement

DROP TRIGGER trg_job_applications_status_history ON job_applications;
CREATE TRIGGER trg_job_applications_status_history AFTER UPDATE OF status ON job_applications
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION job_applications_record_status();
CREATE TRIGGER trg_job_applications_initial_status AFTER INSERT ON job_applications
    REFERENCING NEW TABLE AS new_applications
    FOR EACH STATEMENT EXECUTE FUNCTION job_applications_record_initial_status();

DROP TRIGGER trg_project_reviews_rollup ON project_reviews;
CREATE TRIGGER trg_project_reviews_rollup AFTER INSERT ON project_reviews
    REFERENCING NEW TABLE AS new_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_rollup_statement();
CREATE TRIGGER trg_project_reviews_rollup_update AFTER UPDATE ON project_reviews
    REFERENCING OLD TABLE AS old_reviews NEW TABLE AS new_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_rollup_statement();
CREATE TRIGGER trg_project_reviews_rollup_delete AFTER DELETE ON project_reviews
    REFERENCING OLD TABLE AS old_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_rollup_statement();
