-- sql/migrations/0079_readiness_progress_rollups.sql
--      readiness_progress_rollups: one row per learner summing its user_progress rows, kept exact by
--      statement triggers, so that cs-readiness's read touches one row per learner instead of ~20.
--
-- career_readiness_inputs_batch computed started / completed / career-critical completed items,
-- the average best score, the 30-day study time and the newest activity from every progress row
-- of each learner: ~20 rows in 8 hash partitions plus a content_chunks probe per row, about half
-- of the read's cost on the 1,000,000-event stream (issue #15). The roll-up keeps:
--   started, completed, critical (completed and content_chunks.is_career_critical): counts;
--   score_sum, score_n: sum and count of the non-NULL best_score (the average is their quotient);
--   secs_sum: time_spent_seconds of the rows with a last_accessed_at;
--   accessed_lo, accessed_hi: bounds of the rows' last_accessed_at (lo <= each <= hi, possibly
--     wider than the rows after updates): when both lie inside a learner's 30-day window, every
--     row does and the window's time is secs_sum; otherwise the read sums the window from accessed;
--   last_event_at: the newest last_event_at, exact;
--   accessed: per content item with study time and an access time, its last_accessed_at (in
--     microseconds since the epoch) and time_spent_seconds: {"<content_id>": [us, secs], ...}, so
--     the study time of any 30-day window is exact without the rows (on the 1,000,000-event stream
--     a learner's activity spans ~70 days, so the bounds alone never sufficed).
-- Triggers: readiness_progress_rollup_on_change (user_progress), readiness_progress_rollup_on_content
-- (content_chunks: the career-critical flag), both FOR EACH STATEMENT. Writes that bypass the
-- parent's statement triggers (a partition written directly, session_replication_role = replica)
-- leave the roll-up stale: SELECT readiness_progress_rollup_recount(NULL) recounts it.
-- readiness_activity_rollups does the same for completed coaching sessions (count, sum and count of
-- mentee ratings: 26 monthly partitions probed per read), completed mock interviews (count, sum
-- and count of scores; the latest one's rating is probed per learner by the read) and projects not
-- abandoned (count, completed, showcase-ready, sum and count of review scores), kept by
-- readiness_activity_rollup_on_change: every column is a sum, so every change applies as a delta.
-- requires: readiness_progress_rollup_recount, readiness_progress_rollup_on_change, readiness_progress_rollup_on_content, readiness_activity_rollup_recount, readiness_activity_rollup_on_change

CREATE TABLE readiness_progress_rollups (
    user_id       uuid        PRIMARY KEY,
    started       integer     NOT NULL DEFAULT 0,
    completed     integer     NOT NULL DEFAULT 0,
    critical      integer     NOT NULL DEFAULT 0,
    score_sum     numeric     NOT NULL DEFAULT 0,
    score_n       integer     NOT NULL DEFAULT 0,
    secs_sum      bigint      NOT NULL DEFAULT 0,
    accessed_lo   timestamptz,
    accessed_hi   timestamptz,
    last_event_at timestamptz,
    accessed      jsonb       NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE readiness_progress_rollups IS
    'Per-learner sums of user_progress for career_readiness_inputs_batch, kept by statement triggers (0079).';

CREATE TRIGGER trg_user_progress_rollup_ins AFTER INSERT ON user_progress
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_change();
CREATE TRIGGER trg_user_progress_rollup_upd AFTER UPDATE ON user_progress
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_change();
CREATE TRIGGER trg_user_progress_rollup_del AFTER DELETE ON user_progress
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_change();
CREATE TRIGGER trg_user_progress_rollup_trunc AFTER TRUNCATE ON user_progress
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_change();

CREATE TRIGGER trg_content_chunks_rollup_ins AFTER INSERT ON content_chunks
    REFERENCING NEW TABLE AS new_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_content();
CREATE TRIGGER trg_content_chunks_rollup_upd AFTER UPDATE ON content_chunks
    REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_content();
CREATE TRIGGER trg_content_chunks_rollup_del AFTER DELETE ON content_chunks
    REFERENCING OLD TABLE AS old_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_content();
CREATE TRIGGER trg_content_chunks_rollup_trunc AFTER TRUNCATE ON content_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_progress_rollup_on_content();

-- Backfill from the rows already stored.
SELECT readiness_progress_rollup_recount(NULL);

CREATE TABLE readiness_activity_rollups (
    user_id          uuid    PRIMARY KEY,
    coach_n          integer NOT NULL DEFAULT 0,
    coach_rating_sum bigint  NOT NULL DEFAULT 0,
    coach_rating_n   integer NOT NULL DEFAULT 0,
    mock_n           integer NOT NULL DEFAULT 0,
    mock_score_sum   numeric NOT NULL DEFAULT 0,
    mock_score_n     integer NOT NULL DEFAULT 0,
    proj_n           integer NOT NULL DEFAULT 0,
    proj_completed   integer NOT NULL DEFAULT 0,
    proj_showcase    integer NOT NULL DEFAULT 0,
    proj_review_sum  numeric NOT NULL DEFAULT 0,
    proj_review_n    integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE readiness_activity_rollups IS
    'Per-learner completed coaching sessions and mock interviews, and projects, for career_readiness_inputs_batch, kept by statement triggers (0079).';

CREATE TRIGGER trg_coaching_sessions_rollup_ins AFTER INSERT ON career_coaching_sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_coaching_sessions_rollup_upd AFTER UPDATE ON career_coaching_sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_coaching_sessions_rollup_del AFTER DELETE ON career_coaching_sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_coaching_sessions_rollup_trunc AFTER TRUNCATE ON career_coaching_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_portfolio_projects_rollup_ins AFTER INSERT ON user_portfolio_projects
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_portfolio_projects_rollup_upd AFTER UPDATE ON user_portfolio_projects
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_portfolio_projects_rollup_del AFTER DELETE ON user_portfolio_projects
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_portfolio_projects_rollup_trunc AFTER TRUNCATE ON user_portfolio_projects
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_interview_prep_rollup_ins AFTER INSERT ON interview_preparation
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_interview_prep_rollup_upd AFTER UPDATE ON interview_preparation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_interview_prep_rollup_del AFTER DELETE ON interview_preparation
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();
CREATE TRIGGER trg_interview_prep_rollup_trunc AFTER TRUNCATE ON interview_preparation
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_activity_rollup_on_change();

SELECT readiness_activity_rollup_recount();

GRANT SELECT ON readiness_progress_rollups, readiness_activity_rollups TO cs_worker_readiness, cs_app_admin;
