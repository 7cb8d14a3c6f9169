-- sql/migrations/0020_triggers.sql
--      The schema's triggers: updated_at upkeep, content version history, the audit log's
--      append-only guard, the erasure ledger's guards, mentor capacity, job application status
--      history, portfolio review roll-up and showcase readiness, coaching and outcome upkeep.
--
-- Triggers on the event-fed hot tables are kept to what the domain needs (updated_at, and the
-- status history of job applications); every other roll-up runs on cold tables or rare events.
-- Errors raised here use SQLSTATEs of class CS so callers can tell them apart (all PERMANENT for
-- cs_err_classify_sqlstate):
--     CS001  the learner is in the erasure ledger and can never be recreated
--     CS002  the audit log / erasure ledger is append-only
--     CS003  the mentor has no capacity left (or is not accepting mentees)
-- requires: cs_touch_updated_at, content_chunks_bump_version, content_chunks_record_version, system_logs_append_only, cs_partition_copy_truncate_triggers, erased_users_permanent, user_career_profiles_refuse_erased, mentorship_check_capacity, mentorship_update_mentee_count, job_applications_record_status, project_reviews_rollup, coaching_sessions_count_completed, career_outcomes_on_placement

-- 1. updated_at upkeep on every table that has the column (partitions inherit the trigger).
DO $touch$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.relname
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped
              WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              ORDER BY c.relname
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION cs_touch_updated_at()',
                       'trg_' || t.relname || '_updated_at', t.relname);
    END LOOP;
END
$touch$;

CREATE TRIGGER trg_content_chunks_version BEFORE INSERT OR UPDATE ON content_chunks
    FOR EACH ROW EXECUTE FUNCTION content_chunks_bump_version();

CREATE TRIGGER trg_content_chunks_history AFTER INSERT OR UPDATE ON content_chunks
    FOR EACH ROW EXECUTE FUNCTION content_chunks_record_version();

CREATE TRIGGER trg_system_logs_append_only BEFORE UPDATE OR DELETE ON system_logs
    FOR EACH ROW EXECUTE FUNCTION system_logs_append_only();
CREATE TRIGGER trg_system_logs_no_truncate BEFORE TRUNCATE ON system_logs
    FOR EACH STATEMENT EXECUTE FUNCTION system_logs_append_only();
-- Existing partitions get the TRUNCATE guard now; later ones from cs_partition_create().
DO $copy$
DECLARE
    p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_catalog.pg_inherits WHERE inhparent = 'system_logs'::regclass LOOP
        PERFORM cs_partition_copy_truncate_triggers('system_logs', p);
    END LOOP;
END
$copy$;

CREATE TRIGGER trg_erased_users_permanent BEFORE UPDATE OR DELETE ON erased_users
    FOR EACH ROW EXECUTE FUNCTION erased_users_permanent();
CREATE TRIGGER trg_erased_users_no_truncate BEFORE TRUNCATE ON erased_users
    FOR EACH STATEMENT EXECUTE FUNCTION erased_users_permanent();

CREATE TRIGGER trg_user_career_profiles_refuse_erased BEFORE INSERT ON user_career_profiles
    FOR EACH ROW EXECUTE FUNCTION user_career_profiles_refuse_erased();

CREATE TRIGGER trg_mentorship_capacity BEFORE INSERT OR UPDATE OF status, mentor_id ON mentorship_relationships
    FOR EACH ROW EXECUTE FUNCTION mentorship_check_capacity();

CREATE TRIGGER trg_mentorship_mentee_count AFTER INSERT OR DELETE OR UPDATE OF status, mentor_id ON mentorship_relationships
    FOR EACH ROW EXECUTE FUNCTION mentorship_update_mentee_count();

CREATE TRIGGER trg_job_applications_status_history AFTER INSERT OR UPDATE OF status ON job_applications
    FOR EACH ROW EXECUTE FUNCTION job_applications_record_status();

CREATE TRIGGER trg_project_reviews_rollup AFTER INSERT OR UPDATE OR DELETE ON project_reviews
    FOR EACH ROW EXECUTE FUNCTION project_reviews_rollup();

CREATE TRIGGER trg_coaching_sessions_completed AFTER INSERT OR UPDATE OF status ON career_coaching_sessions
    FOR EACH ROW EXECUTE FUNCTION coaching_sessions_count_completed();

CREATE TRIGGER trg_career_outcomes_placement AFTER INSERT ON career_outcomes
    FOR EACH ROW EXECUTE FUNCTION career_outcomes_on_placement();
