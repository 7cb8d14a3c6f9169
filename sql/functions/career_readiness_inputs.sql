-- sql/functions/career_readiness_inputs.sql
--      The readiness inputs of one learner: a thin call of career_readiness_inputs_batch().
--
-- cs-readiness computes the score in C from these raw inputs; the query itself exists once, in the
-- batch form, which this one selects from (as of p_as_of, now() by default; NULL: the learner's
-- own last activity, as cs-readiness reads it). It returns the batch form's first 30 columns (the
-- per-skill arrays and career_critical_total are the batch form's only), so the column list below
-- is the single-learner contract, not a copy of the query.
--
-- depends: career_readiness_inputs_batch

-- The signature gained p_as_of: drop the one-argument form (a call with one argument would be
-- ambiguous beside it).
DROP FUNCTION IF EXISTS career_readiness_inputs(uuid);

CREATE OR REPLACE FUNCTION career_readiness_inputs(p_user_id uuid, p_as_of timestamptz DEFAULT now())
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
    SELECT user_id, career_stage, target_industry_id, target_industry_demand_index,
           available_study_hours_week, days_in_program, content_started, content_completed,
           career_critical_completed, avg_content_score, study_seconds_30d, skills_assessed,
           skills_proficient, target_skills_total, target_skills_proficient, avg_skill_proficiency,
           projects_total, projects_completed, projects_showcase_ready, avg_project_review_score,
           mock_interviews_completed, avg_mock_interview_score, latest_mock_readiness,
           coaching_sessions_completed, avg_session_rating, has_active_mentor,
           applications_submitted, applications_interviewing, offers_received, last_activity_at
      FROM public.career_readiness_inputs_batch(ARRAY[p_user_id], p_as_of)
$$;

REVOKE EXECUTE ON FUNCTION career_readiness_inputs(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION career_readiness_inputs(uuid, timestamptz) TO cs_worker_readiness, cs_app_admin;
