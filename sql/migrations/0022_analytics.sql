-- sql/migrations/0022_analytics.sql
--      Three materialized views for analytics (career transformation metrics, content
--      effectiveness against career outcomes, mentorship impact), refreshed by refresh_analytics()
--      (sql/functions/).
--
-- Each view has a unique index so refresh_analytics() can refresh it CONCURRENTLY (readers are
-- never blocked). The views hold aggregates only, no learner ids, so cs_analytics may read them
-- without row-level security. "Placed" means an outcome of job_offer_accepted, promotion,
-- freelance or internship.
-- requires: cs_placement_outcome_types

-- Success rate, timeline and salary outcome per target industry and start cohort (month).
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
       round(avg(ctp.readiness_score), 2) AS avg_readiness_score,
       count(pl.user_id) AS placed_learners,
       round(count(pl.user_id)::numeric / count(*), 4) AS placement_rate,
       round(avg(pl.salary_increase_pct), 2) AS avg_salary_increase_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY pl.days_to_offer) AS median_days_to_offer,
       round(avg(pl.satisfaction_rating), 2) AS avg_career_satisfaction,
       now() AS refreshed_at
  FROM learners l
  LEFT JOIN industry_sectors i ON i.industry_id = l.industry_key
  LEFT JOIN career_transformation_progress ctp ON ctp.user_id = l.user_id
  LEFT JOIN placed pl ON pl.user_id = l.user_id
 GROUP BY l.industry_key, i.name, l.cohort_month;
CREATE UNIQUE INDEX idx_mv_career_metrics_key ON mv_career_transformation_metrics (industry_id, cohort_month);

-- Completion and the placement rate of completers per content item, with the lift over the
-- placement rate of all learners with any progress.
CREATE MATERIALIZED VIEW mv_content_effectiveness AS
WITH placed AS (
    SELECT DISTINCT o.user_id FROM career_outcomes o WHERE o.outcome_type = ANY (cs_placement_outcome_types())
), baseline AS (
    SELECT CASE WHEN count(*) = 0 THEN NULL
                ELSE count(pl.user_id)::numeric / count(*) END AS rate
      FROM (SELECT DISTINCT up.user_id FROM user_progress up) u
      LEFT JOIN placed pl ON pl.user_id = u.user_id
), per_content AS (
    SELECT up.content_id,
           count(*) AS learners_started,
           count(*) FILTER (WHERE up.status IN ('completed', 'mastered')) AS learners_completed,
           round(avg(up.best_score), 2) AS avg_best_score,
           round(avg(up.time_spent_seconds)) AS avg_time_spent_seconds,
           round(avg(up.content_rating), 2) AS avg_content_rating,
           round(avg(up.career_relevance_rating), 2) AS avg_career_relevance,
           count(pl.user_id) FILTER (WHERE up.status IN ('completed', 'mastered')) AS completers_placed
      FROM user_progress up
      LEFT JOIN placed pl ON pl.user_id = up.user_id
     GROUP BY up.content_id
)
SELECT pc.content_id, c.title, c.content_type, c.module_id, coalesce(c.is_career_critical, false) AS is_career_critical,
       pc.learners_started, pc.learners_completed,
       round(pc.learners_completed::numeric / pc.learners_started, 4) AS completion_rate,
       pc.avg_best_score, pc.avg_time_spent_seconds, pc.avg_content_rating, pc.avg_career_relevance,
       pc.completers_placed,
       CASE WHEN pc.learners_completed > 0 THEN round(pc.completers_placed::numeric / pc.learners_completed, 4) END
           AS completer_placement_rate,
       round(b.rate, 4) AS baseline_placement_rate,
       CASE WHEN pc.learners_completed > 0 AND b.rate > 0
            THEN round(pc.completers_placed::numeric / pc.learners_completed / b.rate, 3) END AS placement_lift,
       now() AS refreshed_at
  FROM per_content pc
  LEFT JOIN content_chunks c ON c.content_id = pc.content_id
 CROSS JOIN baseline b;
CREATE UNIQUE INDEX idx_mv_content_effectiveness_key ON mv_content_effectiveness (content_id);

-- Mentor performance and ROI: load, session ratings, mentee readiness and placement.
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
    SELECT r.mentor_id, round(avg(ctp.readiness_score), 2) AS avg_active_mentee_readiness
      FROM mentorship_relationships r
      JOIN career_transformation_progress ctp ON ctp.user_id = r.mentee_id
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
