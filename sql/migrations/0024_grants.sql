-- sql/migrations/0024_grants.sql
--      Least-privilege grants: each worker role gets only the tables it writes, app roles what
--      their app shows, cs_analytics read-only access to aggregates and reference data.
--
-- Roles are NOLOGIN groups (0001); a deployment creates login roles and grants them one group.
-- SECURITY DEFINER functions are revoked from PUBLIC and granted by name.

DO $grants$
DECLARE
    reference_tables constant text[] := ARRAY[
        'persona_profiles', 'industry_sectors', 'skill_taxonomy', 'curriculum_modules',
        'curriculum_components', 'curriculum_topics', 'curriculum_concepts', 'content_chunks',
        'industry_case_studies', 'professional_project_templates', 'content_role_variations',
        'persona_content_adaptations', 'ai_avatar_roles', 'assessments', 'assessment_options',
        'mentor_profiles', 'embedding_models', 'content_embeddings'];
    learner_tables constant text[] := ARRAY[
        'user_career_profiles', 'career_transformation_progress', 'career_outcomes',
        'career_coaching_sessions', 'career_milestones', 'user_portfolio_projects', 'project_reviews',
        'user_skill_assessments', 'interview_preparation', 'job_applications',
        'job_application_status_history', 'user_progress', 'mentorship_relationships', 'employer_feedback'];
    progress_tables constant text[] := ARRAY[
        'user_career_profiles', 'career_transformation_progress', 'career_outcomes',
        'career_coaching_sessions', 'career_milestones', 'user_portfolio_projects', 'project_reviews',
        'user_skill_assessments', 'interview_preparation', 'job_applications', 'user_progress',
        'employer_feedback'];
    t text;
    r text;
BEGIN
    FOREACH t IN ARRAY reference_tables LOOP
        FOREACH r IN ARRAY ARRAY['cs_app_learner', 'cs_app_mentor', 'cs_app_expert', 'cs_app_admin', 'cs_analytics'] LOOP
            EXECUTE format('GRANT SELECT ON %I TO %I', t, r);
        END LOOP;
    END LOOP;
    FOREACH t IN ARRAY learner_tables LOOP
        EXECUTE format('GRANT SELECT ON %I TO cs_app_learner, cs_app_mentor', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO cs_app_admin', t);
    END LOOP;
    FOREACH t IN ARRAY progress_tables LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO cs_worker_progress', t);
    END LOOP;
END
$grants$;

-- Learner app: edits its own profile, drafts applications and portfolio projects.
GRANT UPDATE ON user_career_profiles TO cs_app_learner;
GRANT INSERT, UPDATE ON job_applications, user_portfolio_projects TO cs_app_learner;
GRANT UPDATE (celebrated, shared_publicly) ON career_milestones TO cs_app_learner;

-- Mentor app: relationship notes and status, the sessions they hold, reviews and mock interviews.
GRANT UPDATE (status, progress_notes, meeting_cadence, goals, end_reason, ended_at) ON mentorship_relationships TO cs_app_mentor;
GRANT INSERT, UPDATE ON career_coaching_sessions TO cs_app_mentor;
GRANT INSERT, UPDATE ON project_reviews TO cs_app_mentor;

-- Industry experts: validate and edit content, review showcased portfolios.
GRANT INSERT, UPDATE ON content_chunks, industry_case_studies, professional_project_templates TO cs_app_expert;
GRANT SELECT ON user_portfolio_projects, project_reviews TO cs_app_expert;
GRANT INSERT, UPDATE ON project_reviews TO cs_app_expert;
GRANT SELECT ON content_versions, assessment_test_cases TO cs_app_expert;

-- Admins: all reference data, read-only audit and ledger.
DO $admin$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'persona_profiles', 'industry_sectors', 'skill_taxonomy', 'curriculum_modules',
        'curriculum_components', 'curriculum_topics', 'curriculum_concepts', 'content_chunks',
        'content_versions', 'industry_case_studies', 'professional_project_templates',
        'content_role_variations', 'persona_content_adaptations', 'ai_avatar_roles', 'assessments',
        'assessment_options', 'assessment_test_cases', 'mentor_profiles', 'embedding_models',
        'content_embeddings'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO cs_app_admin', t);
    END LOOP;
END
$admin$;
GRANT SELECT ON system_logs, erased_users, partition_config TO cs_app_admin;

-- Analytics: the materialized views (aggregates, no learner ids).
GRANT SELECT ON mv_career_transformation_metrics, mv_content_effectiveness, mv_mentorship_impact
    TO cs_analytics, cs_app_admin;

-- Workers: every worker checks the erasure ledger.
GRANT SELECT ON erased_users TO cs_worker_progress, cs_worker_audit, cs_worker_readiness, cs_worker_matching;
GRANT INSERT, SELECT ON system_logs TO cs_worker_audit;
GRANT SELECT, INSERT, UPDATE ON career_transformation_progress TO cs_worker_readiness;
GRANT SELECT, INSERT, UPDATE ON mentorship_relationships TO cs_worker_matching;
GRANT SELECT ON mentor_profiles TO cs_worker_matching;
