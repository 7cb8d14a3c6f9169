-- sql/migrations/0023_rls.sql
--      Row-level security: learners see only their own rows, mentors only the mentees of their
--      active relationships, industry experts what they review, admins everything; each worker
--      role may write the tables it owns.
--
-- Identity is cs_current_user_id() (the transaction-local setting app.user_id): NULL when unset,
-- so a session that forgot to set it sees nothing. The function is wrapped in a sub-select so it
-- is evaluated once per statement, not once per row. Every protected table also has FORCE ROW
-- LEVEL SECURITY, so an ordinary role that owns the tables is filtered too; only superusers and
-- BYPASSRLS roles (the migrator, see README) skip the policies. Grants (0024) decide which
-- commands a role may run at all; the policies decide which rows.
-- Caveat (PostgreSQL docs, ddl-rowsecurity): the mentor policies read mentorship_relationships,
-- so a relationship ended concurrently may still be visible to a statement that started before
-- the end committed.
-- requires: cs_current_user_id

DO $rls$
DECLARE
    t record;
    me constant text := '(SELECT cs_current_user_id())';
BEGIN
    -- Learner-owned tables and the column naming the learner.
    FOR t IN SELECT * FROM (VALUES
            ('user_career_profiles', 'user_id', true),
            ('career_transformation_progress', 'user_id', true),
            ('career_outcomes', 'user_id', true),
            ('career_coaching_sessions', 'user_id', true),
            ('career_milestones', 'user_id', true),
            ('user_portfolio_projects', 'user_id', true),
            ('project_reviews', 'project_user_id', true),
            ('user_skill_assessments', 'user_id', true),
            ('interview_preparation', 'user_id', true),
            ('job_applications', 'user_id', true),
            ('job_application_status_history', 'user_id', true),
            ('user_progress', 'user_id', true),
            ('mentorship_relationships', 'mentee_id', false),
            ('employer_feedback', 'user_id', false)) AS v(tbl, col, mentor_reads)
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
        IF t.tbl = 'employer_feedback' THEN
            -- Graduates see feedback about them only once it was shared with them.
            EXECUTE format('CREATE POLICY learner_own ON %I FOR SELECT TO cs_app_learner
                            USING (%I = %s AND shared_with_graduate)', t.tbl, t.col, me);
        ELSE
            EXECUTE format('CREATE POLICY learner_own ON %I FOR ALL TO cs_app_learner
                            USING (%I = %s) WITH CHECK (%I = %s)', t.tbl, t.col, me, t.col, me);
        END IF;
        IF t.mentor_reads THEN
            EXECUTE format('CREATE POLICY mentor_active_mentees ON %I FOR SELECT TO cs_app_mentor
                            USING (EXISTS (SELECT 1 FROM mentorship_relationships r
                                            WHERE r.mentor_id = %s AND r.mentee_id = %I.%I
                                              AND r.status = ''active''))', t.tbl, me, t.tbl, t.col);
        END IF;
        EXECUTE format('CREATE POLICY admin_all ON %I FOR ALL TO cs_app_admin USING (true) WITH CHECK (true)', t.tbl);
    END LOOP;

    -- Worker roles write (and read back) only their own tables; their grants are in 0024.
    FOR t IN SELECT * FROM (VALUES
            ('user_career_profiles', 'cs_worker_progress'),
            ('career_transformation_progress', 'cs_worker_progress'),
            ('career_outcomes', 'cs_worker_progress'),
            ('career_coaching_sessions', 'cs_worker_progress'),
            ('career_milestones', 'cs_worker_progress'),
            ('user_portfolio_projects', 'cs_worker_progress'),
            ('project_reviews', 'cs_worker_progress'),
            ('user_skill_assessments', 'cs_worker_progress'),
            ('interview_preparation', 'cs_worker_progress'),
            ('job_applications', 'cs_worker_progress'),
            ('user_progress', 'cs_worker_progress'),
            ('employer_feedback', 'cs_worker_progress'),
            ('career_transformation_progress', 'cs_worker_readiness'),
            ('mentorship_relationships', 'cs_worker_matching')) AS v(tbl, role)
    LOOP
        EXECUTE format('CREATE POLICY %I ON %I FOR ALL TO %I USING (true) WITH CHECK (true)',
                       'worker_' || replace(t.role, 'cs_worker_', ''), t.tbl, t.role);
    END LOOP;
END
$rls$;

-- Mentors: their own relationships, and the sessions and reviews they hold.
CREATE POLICY mentor_own_relationships ON mentorship_relationships FOR ALL TO cs_app_mentor
    USING (mentor_id = (SELECT cs_current_user_id()))
    WITH CHECK (mentor_id = (SELECT cs_current_user_id()));
CREATE POLICY mentor_own_sessions ON career_coaching_sessions FOR ALL TO cs_app_mentor
    USING (mentor_id = (SELECT cs_current_user_id()))
    WITH CHECK (mentor_id = (SELECT cs_current_user_id())
                AND EXISTS (SELECT 1 FROM mentorship_relationships r
                             WHERE r.mentor_id = (SELECT cs_current_user_id())
                               AND r.mentee_id = career_coaching_sessions.user_id AND r.status = 'active'));
CREATE POLICY reviewer_own_reviews ON project_reviews FOR ALL TO cs_app_mentor, cs_app_expert
    USING (reviewer_id = (SELECT cs_current_user_id()))
    WITH CHECK (reviewer_id = (SELECT cs_current_user_id()));

-- Industry experts: portfolio work its owner opened to employers or the public, for validation.
CREATE POLICY expert_visible_projects ON user_portfolio_projects FOR SELECT TO cs_app_expert
    USING (visibility IN ('employers', 'public'));

-- Content: learners and mentors read published content; experts validate and edit all of it.
ALTER TABLE content_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY published_content ON content_chunks FOR SELECT TO cs_app_learner, cs_app_mentor, cs_analytics
    USING (status = 'published');
CREATE POLICY expert_all_content ON content_chunks FOR ALL TO cs_app_expert USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON content_chunks FOR ALL TO cs_app_admin USING (true) WITH CHECK (true);
