-- sql/migrations/0104_progress_touch_updated_at.sql
--      The updated_at trigger of four tables cs-progress updates skips rows whose updated_at the
--      statement set itself, as 0089 did for career_transformation_progress.
--
-- 0020 gave every table with an updated_at column a BEFORE UPDATE row trigger calling
-- cs_touch_updated_at() (a PL/pgSQL call per updated row, ~7 us). A 1,000,000-event drain of
-- cs-progress alone called it 103,655 times (track_functions = all: 0.78 s): for the updates of
-- career_transformation_progress (54,654), user_progress (21,919), user_portfolio_projects
-- (19,926), job_applications (9,265) and user_career_profiles (5,891). cs-progress's upserts of
-- these tables, the job status triggers' UPDATEs of job_applications
-- (job_status_history_apply, job_applications_inserted) and the review roll-up's of
-- user_portfolio_projects (project_reviews_rollup_statement) now set updated_at =
-- clock_timestamp(), the value the trigger gives; the trigger gets 0089's WHEN clause: it fires
-- when updated_at is unchanged by the statement, so every UPDATE that does not mention
-- updated_at gets clock_timestamp() exactly as before. A statement that sets updated_at to the
-- value it already had still gets the trigger's clock_timestamp(). The triggers of the
-- partitioned tables are their partitions' too (dropped and cloned with the parent's).
-- requires: cs_touch_updated_at

DO $touch$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['user_progress', 'user_portfolio_projects', 'job_applications', 'user_career_profiles'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', 'trg_' || t || '_updated_at', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW '
                       'WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) '
                       'EXECUTE FUNCTION cs_touch_updated_at()', 'trg_' || t || '_updated_at', t);
    END LOOP;
END
$touch$;
