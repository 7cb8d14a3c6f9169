-- sql/migrations/0081_readiness_career_rollups.sql
--      readiness_career_rollups: one row per learner holding what career_readiness_inputs_batch
--      still read from raw rows after 0079 (latest proficiency per skill, job application counts,
--      active mentors, the latest completed mock interview), kept exact by statement triggers.
--
-- After 0079 the read (~36 us of backend per learner on the distinct-learner stream, issue #15)
-- still ran DISTINCT ON over user_skill_assessments (twice), counted job_applications over its
-- partitions, probed mentorship_relationships and interview_preparation. The roll-up keeps:
--   skills: per assessed skill, the latest assessment as {"<skill_id>": [assessed_at_us,
--     proficiency_score], ...} (assessed_at in microseconds since the epoch; the newest
--     assessed_at wins, equal times the higher score, so that any arrival order gives one map);
--   apps_submitted, apps_interviewing, apps_offers: job applications whose status is not 'draft',
--     is 'interviewing', 'offer' or 'accepted', is 'offer' or 'accepted' (sums: every change
--     applies as old row minus, new row plus);
--   mentors_active: mentorship_relationships of the learner as mentee with status 'active' (a sum);
--   mock_at, mock_prep_id, mock_rating: the latest completed mock interview (interview_preparation
--     with status 'completed'): the greatest (coalesce(completed_at, '-infinity'), prep_id), so
--     that a completed_at NULL sorts last and equal times have one winner; its readiness_rating.
--     mock_at is NULL when the learner has none.
-- Trigger: readiness_career_rollup_on_change, FOR EACH STATEMENT with transition tables on the four
-- tables. Inserted assessments and mock interviews merge newer-wins; an update or a delete of
-- either recounts the learners it touched (cs-progress only inserts them); the counts apply as
-- deltas. TRUNCATE recounts every learner. Writes that bypass the parents' statement triggers (a
-- partition written directly, session_replication_role = replica) leave the roll-up stale:
-- SELECT readiness_career_rollup_recount(NULL) rebuilds it. A learner with nothing left loses its row
-- (erasure leaves no map of proficiencies behind).
-- requires: readiness_career_rollup_recount, readiness_career_rollup_on_change

CREATE TABLE readiness_career_rollups (
    user_id           uuid        PRIMARY KEY,
    skills            jsonb       NOT NULL DEFAULT '{}',
    apps_submitted    integer     NOT NULL DEFAULT 0,
    apps_interviewing integer     NOT NULL DEFAULT 0,
    apps_offers       integer     NOT NULL DEFAULT 0,
    mentors_active    integer     NOT NULL DEFAULT 0,
    mock_at           timestamptz,
    mock_prep_id      uuid,
    mock_rating       text
);
COMMENT ON TABLE readiness_career_rollups IS
    'Per-learner latest skill proficiencies, job application counts, active mentors and latest completed mock interview for career_readiness_inputs_batch, kept by statement triggers (0081).';

CREATE TRIGGER trg_skill_assessments_rollup_ins AFTER INSERT ON user_skill_assessments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_skill_assessments_rollup_upd AFTER UPDATE ON user_skill_assessments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_skill_assessments_rollup_del AFTER DELETE ON user_skill_assessments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_skill_assessments_rollup_trunc AFTER TRUNCATE ON user_skill_assessments
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();

CREATE TRIGGER trg_job_applications_rollup_ins AFTER INSERT ON job_applications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_job_applications_rollup_upd AFTER UPDATE ON job_applications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_job_applications_rollup_del AFTER DELETE ON job_applications
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_job_applications_rollup_trunc AFTER TRUNCATE ON job_applications
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();

CREATE TRIGGER trg_mentorship_rollup_ins AFTER INSERT ON mentorship_relationships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_mentorship_rollup_upd AFTER UPDATE ON mentorship_relationships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_mentorship_rollup_del AFTER DELETE ON mentorship_relationships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_mentorship_rollup_trunc AFTER TRUNCATE ON mentorship_relationships
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();

CREATE TRIGGER trg_interview_prep_career_rollup_ins AFTER INSERT ON interview_preparation
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_interview_prep_career_rollup_upd AFTER UPDATE ON interview_preparation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_interview_prep_career_rollup_del AFTER DELETE ON interview_preparation
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();
CREATE TRIGGER trg_interview_prep_career_rollup_trunc AFTER TRUNCATE ON interview_preparation
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_career_rollup_on_change();

-- Backfill from the rows already stored.
SELECT readiness_career_rollup_recount(NULL);

GRANT SELECT ON readiness_career_rollups TO cs_worker_readiness, cs_app_admin;
