-- sql/migrations/0078_progress_job_applications_set_based.sql
--      job_applications without a row trigger: cs-progress folds an application's status
--      history in its own INSERT, and one statement trigger does the rest for every writer.
--
-- Measured over 1,000,000-event cs-progress drains (61,753 applications): the BEFORE INSERT row
-- trigger trg_job_applications_from_history (0050) ran two PL/pgSQL queries per application,
-- its EXISTS check (61,753 calls) and the fold itself (52,760 calls, most applications: a
-- learner's status events often share the batch of the submission), 1.8 s of PostgreSQL out of
-- the 6.7 s of inserting the applications (pg_stat_statements, track = all).
-- Now:
--   * cs-progress's INSERT of job_applications folds each row's history in the statement itself
--     (a LATERAL join over the history's index, workers/progress.c T_JOB, cs_table_def_t.join):
--     the same rule, the same rows, no trigger call per row;
--   * trg_job_applications_inserted (AFTER INSERT, statement level, new_applications) applies
--     the same rule to the inserted rows any writer left unfolded (one probe per row finds none
--     for cs-progress's) and records the initial status of inserted applications, from the row
--     as folded, as trg_job_applications_initial_status (0051) did, which goes;
--   * trg_job_applications_from_history stays only for a row that gives interview_rounds as
--     NULL (a WHEN clause, evaluated without calling the function): the column is NOT NULL, and
--     the fold has always turned that NULL into a number before the insert (tests/sql/11), which
--     an AFTER trigger cannot do.
-- The rows are the same for any arrival order of the events (tests/integration/0101 and 0103),
-- and for other writers, but for updated_at of a row the statement trigger changes.
-- requires: job_applications_inserted, job_applications_from_history

DROP TRIGGER trg_job_applications_from_history ON job_applications;
CREATE TRIGGER trg_job_applications_from_history BEFORE INSERT ON job_applications
    FOR EACH ROW WHEN (NEW.interview_rounds IS NULL)
    EXECUTE FUNCTION job_applications_from_history();
DROP TRIGGER trg_job_applications_initial_status ON job_applications;
CREATE TRIGGER trg_job_applications_inserted AFTER INSERT ON job_applications
    REFERENCING NEW TABLE AS new_applications
    FOR EACH STATEMENT EXECUTE FUNCTION job_applications_inserted();
