-- sql/functions/career_readiness_inputs_batch.sql
--      The readiness inputs of a whole batch of learners in one statement.
--
-- Measured on the seeded database: one call of the single-learner form costs ~12 ms, almost all
-- of it planning (the query touches every partition of four partitioned tables); a batch pays
-- the planning once. cs-readiness recomputes the learners of a consumed batch, so it calls
--     SELECT * FROM career_readiness_inputs_batch($1::uuid[])
-- once per batch. Learners without a profile are left out; every count is 0 (never NULL) for a
-- learner with no rows, averages are NULL when there is nothing to average. (A separate name, not
-- an overload: career_readiness_inputs('...') with an untyped literal or parameter must stay
-- unambiguous.) One place per formula: the function gathers raw counts and averages, the
-- weighting lives in the worker.

CREATE OR REPLACE FUNCTION career_readiness_inputs_batch(p_user_ids uuid[])
    RETURNS TABLE (
        user_id                      uuid,
        career_stage                 text,
        target_industry_id           uuid,
        target_industry_demand_index numeric,
        available_study_hours_week   numeric,
        days_in_program              integer,
        content_started              integer,
        content_completed            integer,
        career_critical_completed    integer,
        avg_content_score            numeric,
        study_seconds_30d            bigint,
        skills_assessed              integer,
        skills_proficient            integer,
        target_skills_total          integer,
        target_skills_proficient     integer,
        avg_skill_proficiency        numeric,
        projects_total               integer,
        projects_completed           integer,
        projects_showcase_ready      integer,
        avg_project_review_score     numeric,
        mock_interviews_completed    integer,
        avg_mock_interview_score     numeric,
        latest_mock_readiness        text,
        coaching_sessions_completed  integer,
        avg_session_rating           numeric,
        has_active_mentor            boolean,
        applications_submitted       integer,
        applications_interviewing    integer,
        offers_received              integer,
        last_activity_at             timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH p AS (
        SELECT ucp.* FROM public.user_career_profiles ucp WHERE ucp.user_id = ANY (p_user_ids)
    ), prog AS (
        SELECT up.user_id,
               count(*)::int AS started,
               count(*) FILTER (WHERE up.status IN ('completed', 'mastered'))::int AS completed,
               count(*) FILTER (WHERE up.status IN ('completed', 'mastered') AND cc.is_career_critical)::int AS critical,
               round(avg(up.best_score), 2) AS avg_score,
               coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at > now() - interval '30 days'), 0)::bigint AS secs_30d,
               max(up.last_event_at) AS last_at
          FROM public.user_progress up
          LEFT JOIN public.content_chunks cc ON cc.content_id = up.content_id
         WHERE up.user_id = ANY (p_user_ids)
         GROUP BY up.user_id
    ), latest_skill AS (
        SELECT DISTINCT ON (usa.user_id, usa.skill_id) usa.user_id, usa.skill_id, usa.proficiency_score
          FROM public.user_skill_assessments usa
         WHERE usa.user_id = ANY (p_user_ids)
         ORDER BY usa.user_id, usa.skill_id, usa.assessed_at DESC
    ), skills AS (
        SELECT l.user_id,
               count(*)::int AS assessed,
               count(*) FILTER (WHERE l.proficiency_score >= 70)::int AS proficient,
               count(*) FILTER (WHERE l.proficiency_score >= 70 AND l.skill_id = ANY (p.target_skill_ids))::int AS target_proficient,
               round(avg(l.proficiency_score), 2) AS avg_prof
          FROM latest_skill l JOIN p ON p.user_id = l.user_id
         GROUP BY l.user_id
    ), proj AS (
        SELECT upp.user_id,
               count(*)::int AS total,
               count(*) FILTER (WHERE upp.status IN ('completed', 'showcased'))::int AS completed,
               count(*) FILTER (WHERE upp.showcase_ready)::int AS showcase,
               round(avg(upp.avg_review_score), 2) AS avg_review
          FROM public.user_portfolio_projects upp
         WHERE upp.user_id = ANY (p_user_ids) AND upp.status <> 'abandoned'
         GROUP BY upp.user_id
    ), mock AS (
        SELECT ip.user_id, count(*)::int AS n, round(avg(ip.overall_score), 2) AS avg_score,
               (array_agg(ip.readiness_rating ORDER BY ip.completed_at DESC NULLS LAST))[1] AS latest
          FROM public.interview_preparation ip
         WHERE ip.user_id = ANY (p_user_ids) AND ip.status = 'completed'
         GROUP BY ip.user_id
    ), coach AS (
        SELECT s.user_id, count(*)::int AS n, round(avg(s.mentee_rating), 2) AS avg_rating
          FROM public.career_coaching_sessions s
         WHERE s.user_id = ANY (p_user_ids) AND s.status = 'completed'
         GROUP BY s.user_id
    ), jobs AS (
        SELECT ja.user_id,
               count(*) FILTER (WHERE ja.status <> 'draft')::int AS submitted,
               count(*) FILTER (WHERE ja.status IN ('interviewing', 'offer', 'accepted'))::int AS interviewing,
               count(*) FILTER (WHERE ja.status IN ('offer', 'accepted'))::int AS offers
          FROM public.job_applications ja
         WHERE ja.user_id = ANY (p_user_ids)
         GROUP BY ja.user_id
    ), mentored AS (
        SELECT DISTINCT r.mentee_id AS user_id
          FROM public.mentorship_relationships r
         WHERE r.mentee_id = ANY (p_user_ids) AND r.status = 'active'
    )
    SELECT p.user_id, p.career_stage, p.target_industry_id, i.demand_index, p.available_study_hours_week,
           (current_date - coalesce(p.program_start_date, p.created_at::date))::int,
           coalesce(prog.started, 0), coalesce(prog.completed, 0), coalesce(prog.critical, 0), prog.avg_score,
           coalesce(prog.secs_30d, 0),
           coalesce(skills.assessed, 0), coalesce(skills.proficient, 0), cardinality(p.target_skill_ids),
           coalesce(skills.target_proficient, 0), skills.avg_prof,
           coalesce(proj.total, 0), coalesce(proj.completed, 0), coalesce(proj.showcase, 0), proj.avg_review,
           coalesce(mock.n, 0), mock.avg_score, mock.latest,
           coalesce(coach.n, 0), coach.avg_rating,
           mentored.user_id IS NOT NULL,
           coalesce(jobs.submitted, 0), coalesce(jobs.interviewing, 0), coalesce(jobs.offers, 0),
           greatest(prog.last_at, p.last_active_at)
      FROM p
      LEFT JOIN public.industry_sectors i ON i.industry_id = p.target_industry_id
      LEFT JOIN prog ON prog.user_id = p.user_id
      LEFT JOIN skills ON skills.user_id = p.user_id
      LEFT JOIN proj ON proj.user_id = p.user_id
      LEFT JOIN mock ON mock.user_id = p.user_id
      LEFT JOIN coach ON coach.user_id = p.user_id
      LEFT JOIN jobs ON jobs.user_id = p.user_id
      LEFT JOIN mentored ON mentored.user_id = p.user_id
$$;

REVOKE EXECUTE ON FUNCTION career_readiness_inputs_batch(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION career_readiness_inputs_batch(uuid[]) TO cs_worker_readiness, cs_app_admin;
