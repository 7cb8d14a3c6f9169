-- sql/functions/career_readiness_inputs_batch.sql
--      The readiness inputs of a whole batch of learners in one statement: career_readiness_inputs_fp
--      without its fingerprint column and without skipping any learner (every learner of
--      p_user_ids with a profile, one row each).
--
-- For tests and ad-hoc queries (the columns are documented there, and in docs/readiness.md);
-- cs-readiness calls career_readiness_inputs_fp itself. Same columns as before migration 0093:
-- test 0104 compares SELECT * of it with the raw rows.
-- depends: career_readiness_inputs_fp

-- The signature and the columns changed (p_as_of, the per-skill arrays): drop the old forms.
DROP FUNCTION IF EXISTS career_readiness_inputs_batch(uuid[]);
DROP FUNCTION IF EXISTS career_readiness_inputs_batch(uuid[], timestamptz);

CREATE OR REPLACE FUNCTION career_readiness_inputs_batch(p_user_ids uuid[], p_as_of timestamptz DEFAULT NULL)
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
        last_activity_at             timestamptz,
        target_skill_ids             uuid[],
        target_skill_demand          numeric[],
        target_skill_proficiency     numeric[],
        career_critical_total        integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT f.user_id, f.career_stage, f.target_industry_id, f.target_industry_demand_index,
           f.available_study_hours_week, f.days_in_program, f.content_started, f.content_completed,
           f.career_critical_completed, f.avg_content_score, f.study_seconds_30d, f.skills_assessed,
           f.skills_proficient, f.target_skills_total, f.target_skills_proficient,
           f.avg_skill_proficiency, f.projects_total, f.projects_completed, f.projects_showcase_ready,
           f.avg_project_review_score, f.mock_interviews_completed, f.avg_mock_interview_score,
           f.latest_mock_readiness, f.coaching_sessions_completed, f.avg_session_rating,
           f.has_active_mentor, f.applications_submitted, f.applications_interviewing,
           f.offers_received, f.last_activity_at, f.target_skill_ids, f.target_skill_demand,
           f.target_skill_proficiency, f.career_critical_total
      FROM public.career_readiness_inputs_fp(p_user_ids, p_as_of, NULL) f
$$;

REVOKE EXECUTE ON FUNCTION career_readiness_inputs_batch(uuid[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION career_readiness_inputs_batch(uuid[], timestamptz) TO cs_worker_readiness, cs_app_admin;
