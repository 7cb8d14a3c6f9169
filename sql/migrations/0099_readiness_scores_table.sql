-- sql/migrations/0099_readiness_scores_table.sql
--      career_readiness_scores: cs-readiness's stored score of a learner in a narrow table of its
--      own, keyed by learner, instead of a dozen columns of the learner's wide
--      career_transformation_progress row (docs/readiness.md, Performance, tenth round).
--
-- Writing a score was an upsert of the progress row (38 columns, ~23 CHECK constraints, forced
-- RLS, the updated_at trigger): never HOT (readiness_score is in
-- idx_transformation_progress_phase_readiness, and the first score grows the row by its ~720-byte
-- explanation so that the new version rarely fits its page), so every write inserted into both
-- indexes and logged the whole ~1 KB row: 27-33 us of backend CPU per row, ~36% of a drain's
-- PostgreSQL CPU. The score now lives here: only the primary key (re-scores are HOT: no other
-- index, fillfactor 70 leaves each page room for new versions), two CHECK constraints, no
-- trigger. The foreign key to the profile stays (ON DELETE CASCADE): its check runs only when a
-- learner's first score is inserted (an update of the row keeps its key), it removes an erased
-- learner's score, and it orders an erasure against a batch writing the learner's history in the
-- same transaction (career_readiness_history_erase: the argument 0096 made with the progress
-- row's key).
--
-- What stays on career_transformation_progress: its 0010 readiness columns (readiness_score,
-- readiness_technical ... readiness_source_event_id) and 0070's remain for the platform's schema
-- and other writers (readiness_components, readiness_professional), but careerstream no longer
-- writes them: a copy kept in step would cost the very update this table removes, and a stale
-- copy would be wrong, so the scores carried over below are emptied there. Readers take the score
-- from here, joined by user_id (the analytics views below; row-level security as on the progress
-- row). The rows carried over: every progress row with a stage (cs-readiness wrote all its
-- readiness columns together since 0070); a score of another writer (no stage) stays where it is.
-- Column names follow career_readiness_history (skills is 0010's readiness_technical).

CREATE TABLE career_readiness_scores (
    user_id          uuid         PRIMARY KEY REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    score            numeric(5,2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    skills           numeric(5,2) NOT NULL,
    portfolio        numeric(5,2) NOT NULL,
    interview        numeric(5,2) NOT NULL,
    learning         numeric(5,2) NOT NULL,
    job_search       numeric(5,2) NOT NULL,
    mentoring        numeric(5,2) NOT NULL,
    stage            text         NOT NULL CHECK (stage IN ('exploring', 'learning', 'building_portfolio',
                                                            'job_searching', 'interviewing', 'placed')),
    explanation      cs_json_object,
    model_version    text         NOT NULL,
    computed_at      timestamptz  NOT NULL,
    source_event_id  uuid,
    emitted_score    numeric(5,2),
    emitted_stage    text,
    inputs_fp        text
) WITH (fillfactor = 70);
COMMENT ON TABLE career_readiness_scores IS
    'Each learner''s current readiness score as cs-readiness stored it: six dimensions, stage, explanation (0099).';
COMMENT ON COLUMN career_readiness_scores.emitted_score IS
    'The score the last readiness_score_changed stated (NULL: none yet); with emitted_stage the emit rule''s reference.';
COMMENT ON COLUMN career_readiness_scores.inputs_fp IS
    'The versions of the readiness inputs the score was computed from (career_readiness_inputs_fp; 0093).';

ALTER TABLE career_readiness_scores ENABLE ROW LEVEL SECURITY;
ALTER TABLE career_readiness_scores FORCE ROW LEVEL SECURITY;
CREATE POLICY learner_own ON career_readiness_scores FOR ALL TO cs_app_learner
    USING (user_id = (SELECT cs_current_user_id())) WITH CHECK (user_id = (SELECT cs_current_user_id()));
CREATE POLICY mentor_active_mentees ON career_readiness_scores FOR SELECT TO cs_app_mentor
    USING (EXISTS (SELECT 1 FROM mentorship_relationships r
                    WHERE r.mentor_id = (SELECT cs_current_user_id())
                      AND r.mentee_id = career_readiness_scores.user_id AND r.status = 'active'));
CREATE POLICY admin_all ON career_readiness_scores FOR ALL TO cs_app_admin USING (true) WITH CHECK (true);
CREATE POLICY worker_readiness ON career_readiness_scores FOR ALL TO cs_worker_readiness
    USING (true) WITH CHECK (true);
GRANT SELECT ON career_readiness_scores TO cs_app_learner, cs_app_mentor;
GRANT SELECT, INSERT, UPDATE, DELETE ON career_readiness_scores TO cs_app_admin;
GRANT SELECT, INSERT, UPDATE ON career_readiness_scores TO cs_worker_readiness;
-- cs-readiness no longer writes the progress rows (its read is career_readiness_inputs_fp, SECURITY DEFINER).
REVOKE SELECT, INSERT, UPDATE ON career_transformation_progress FROM cs_worker_readiness;
DROP POLICY worker_readiness ON career_transformation_progress;

-- Carry the stored scores over, then empty them on the progress row.
INSERT INTO career_readiness_scores (user_id, score, skills, portfolio, interview, learning, job_search,
                                     mentoring, stage, explanation, model_version, computed_at,
                                     source_event_id, emitted_score, emitted_stage, inputs_fp)
SELECT user_id, readiness_score, readiness_technical, readiness_portfolio, readiness_interview,
       readiness_learning, readiness_job_search, readiness_mentoring, readiness_stage,
       readiness_explanation, readiness_model_version, readiness_computed_at, readiness_source_event_id,
       readiness_emitted_score, readiness_emitted_stage, readiness_inputs_fp
  FROM career_transformation_progress
 WHERE readiness_stage IS NOT NULL;
UPDATE career_transformation_progress
   SET readiness_score = NULL, readiness_technical = NULL, readiness_portfolio = NULL,
       readiness_interview = NULL, readiness_learning = NULL, readiness_job_search = NULL,
       readiness_mentoring = NULL, readiness_stage = NULL, readiness_explanation = NULL,
       readiness_model_version = NULL, readiness_computed_at = NULL, readiness_source_event_id = NULL,
       readiness_emitted_score = NULL, readiness_emitted_stage = NULL, readiness_inputs_fp = NULL
 WHERE readiness_stage IS NOT NULL;

-- The two analytics views of 0022 that average the score read it from here (otherwise as 0022).
DROP MATERIALIZED VIEW mv_career_transformation_metrics;
CREATE MATERIALIZED VIEW mv_career_transformation_metrics AS
WITH learners AS (
    SELECT p.user_id,
           coalesce(p.target_industry_id, '00000000-0000-0000-0000-000000000000'::uuid) AS industry_key,
           date_trunc('month', coalesce(p.program_start_date::timestamptz, p.created_at))::date AS cohort_month,
           p.is_active, p.career_stage
      FROM user_career_profiles p
), placed AS (
    SELECT DISTINCT ON (o.user_id) o.user_id, o.salary_increase_pct, o.days_to_offer, o.satisfaction_rating
      FROM career_outcomes o
     WHERE o.outcome_type = ANY (cs_placement_outcome_types())
     ORDER BY o.user_id, o.outcome_at
)
SELECT l.industry_key AS industry_id,
       coalesce(i.name, 'Undecided') AS industry_name,
       l.cohort_month,
       count(*) AS learners,
       count(*) FILTER (WHERE l.is_active) AS active_learners,
       count(*) FILTER (WHERE l.career_stage IN ('job_ready', 'job_searching')) AS job_ready_learners,
       round(avg(rs.score), 2) AS avg_readiness_score,
       count(pl.user_id) AS placed_learners,
       round(count(pl.user_id)::numeric / count(*), 4) AS placement_rate,
       round(avg(pl.salary_increase_pct), 2) AS avg_salary_increase_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY pl.days_to_offer) AS median_days_to_offer,
       round(avg(pl.satisfaction_rating), 2) AS avg_career_satisfaction,
       now() AS refreshed_at
  FROM learners l
  LEFT JOIN industry_sectors i ON i.industry_id = l.industry_key
  LEFT JOIN career_readiness_scores rs ON rs.user_id = l.user_id
  LEFT JOIN placed pl ON pl.user_id = l.user_id
 GROUP BY l.industry_key, i.name, l.cohort_month;
CREATE UNIQUE INDEX idx_mv_career_metrics_key ON mv_career_transformation_metrics (industry_id, cohort_month);

DROP MATERIALIZED VIEW mv_mentorship_impact;
CREATE MATERIALIZED VIEW mv_mentorship_impact AS
WITH rel AS (
    SELECT r.mentor_id,
           count(DISTINCT r.mentee_id) AS total_mentees,
           count(DISTINCT r.mentee_id) FILTER (WHERE r.status = 'active') AS active_mentees,
           round(avg(r.mentee_satisfaction), 2) AS avg_mentee_satisfaction
      FROM mentorship_relationships r
     WHERE r.status IN ('active', 'paused', 'ended')
     GROUP BY r.mentor_id
), sess AS (
    SELECT s.mentor_id, count(*) AS sessions_completed, round(avg(s.mentee_rating), 2) AS avg_session_rating
      FROM career_coaching_sessions s
     WHERE s.status = 'completed' AND s.mentor_id IS NOT NULL
     GROUP BY s.mentor_id
), mentee_outcomes AS (
    SELECT r.mentor_id,
           count(DISTINCT o.user_id) AS mentees_placed,
           round(avg(o.salary_increase_pct), 2) AS avg_mentee_salary_increase_pct,
           round(avg(o.days_to_offer), 1) AS avg_mentee_days_to_offer
      FROM mentorship_relationships r
      JOIN career_outcomes o ON o.user_id = r.mentee_id AND o.outcome_type = ANY (cs_placement_outcome_types())
                            AND o.outcome_at >= coalesce(r.started_at, r.requested_at)
     WHERE r.status IN ('active', 'paused', 'ended')
     GROUP BY r.mentor_id
), readiness AS (
    SELECT r.mentor_id, round(avg(rs.score), 2) AS avg_active_mentee_readiness
      FROM mentorship_relationships r
      JOIN career_readiness_scores rs ON rs.user_id = r.mentee_id
     WHERE r.status = 'active'
     GROUP BY r.mentor_id
)
SELECT m.mentor_id, m.display_name, m.industry_id, m.max_mentees,
       coalesce(rel.active_mentees, 0) AS active_mentees,
       coalesce(rel.total_mentees, 0) AS total_mentees,
       CASE WHEN m.max_mentees > 0 THEN round(coalesce(rel.active_mentees, 0)::numeric / m.max_mentees, 4) END
           AS capacity_utilization,
       coalesce(sess.sessions_completed, 0) AS sessions_completed,
       sess.avg_session_rating,
       rel.avg_mentee_satisfaction,
       coalesce(mo.mentees_placed, 0) AS mentees_placed,
       CASE WHEN rel.total_mentees > 0 THEN round(coalesce(mo.mentees_placed, 0)::numeric / rel.total_mentees, 4) END
           AS mentee_placement_rate,
       mo.avg_mentee_salary_increase_pct,
       mo.avg_mentee_days_to_offer,
       rd.avg_active_mentee_readiness,
       now() AS refreshed_at
  FROM mentor_profiles m
  LEFT JOIN rel ON rel.mentor_id = m.mentor_id
  LEFT JOIN sess ON sess.mentor_id = m.mentor_id
  LEFT JOIN mentee_outcomes mo ON mo.mentor_id = m.mentor_id
  LEFT JOIN readiness rd ON rd.mentor_id = m.mentor_id;
CREATE UNIQUE INDEX idx_mv_mentorship_impact_key ON mv_mentorship_impact (mentor_id);

GRANT SELECT ON mv_career_transformation_metrics, mv_mentorship_impact TO cs_analytics, cs_app_admin;
