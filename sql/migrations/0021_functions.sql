-- sql/migrations/0021_functions.sql
--      The schema's functions: the data-gathering side of the career readiness calculator and of
--      mentor matching, content recommendation, GDPR erasure, employer feedback anonymisation,
--      audit payload redaction.
--
-- One place per formula: the readiness score and the mentor match score are computed in C by
-- cs-readiness and cs-matching; the functions here only gather their inputs (raw counts,
-- averages, overlaps), never weight them. Content recommendation has no C counterpart, so its
-- scoring lives here and only here. Showcase readiness lives in project_reviews_rollup (0020).
-- SECURITY DEFINER functions pin search_path and qualify every name; EXECUTE is revoked from
-- PUBLIC and granted per role in 0024_grants.sql.

-- Everything the readiness calculator needs about one learner, in one row. NULL averages mean
-- "no data yet"; the worker decides what that is worth.
CREATE FUNCTION career_readiness_inputs(p_user_id uuid)
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
        SELECT ucp.* FROM public.user_career_profiles ucp WHERE ucp.user_id = p_user_id
    ), prog AS (
        SELECT count(*)::int AS started,
               count(*) FILTER (WHERE up.status IN ('completed', 'mastered'))::int AS completed,
               count(*) FILTER (WHERE up.status IN ('completed', 'mastered') AND cc.is_career_critical)::int AS critical,
               round(avg(up.best_score), 2) AS avg_score,
               coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at > now() - interval '30 days'), 0)::bigint AS secs_30d,
               max(up.last_event_at) AS last_at
          FROM public.user_progress up
          LEFT JOIN public.content_chunks cc ON cc.content_id = up.content_id
         WHERE up.user_id = p_user_id
    ), skills AS (
        SELECT count(*)::int AS assessed,
               count(*) FILTER (WHERE l.proficiency_score >= 70)::int AS proficient,
               count(*) FILTER (WHERE l.proficiency_score >= 70
                                  AND l.skill_id IN (SELECT unnest(target_skill_ids) FROM p))::int AS target_proficient,
               round(avg(l.proficiency_score), 2) AS avg_prof
          FROM (SELECT DISTINCT ON (usa.skill_id) usa.skill_id, usa.proficiency_score
                  FROM public.user_skill_assessments usa
                 WHERE usa.user_id = p_user_id
                 ORDER BY usa.skill_id, usa.assessed_at DESC) l
    ), proj AS (
        SELECT count(*)::int AS total,
               count(*) FILTER (WHERE upp.status IN ('completed', 'showcased'))::int AS completed,
               count(*) FILTER (WHERE upp.showcase_ready)::int AS showcase,
               round(avg(upp.avg_review_score), 2) AS avg_review
          FROM public.user_portfolio_projects upp
         WHERE upp.user_id = p_user_id AND upp.status <> 'abandoned'
    ), mock AS (
        SELECT count(*)::int AS n, round(avg(ip.overall_score), 2) AS avg_score,
               (array_agg(ip.readiness_rating ORDER BY ip.completed_at DESC NULLS LAST))[1] AS latest
          FROM public.interview_preparation ip
         WHERE ip.user_id = p_user_id AND ip.status = 'completed'
    ), coach AS (
        SELECT count(*)::int AS n, round(avg(s.mentee_rating), 2) AS avg_rating
          FROM public.career_coaching_sessions s
         WHERE s.user_id = p_user_id AND s.status = 'completed'
    ), jobs AS (
        SELECT count(*) FILTER (WHERE ja.status <> 'draft')::int AS submitted,
               count(*) FILTER (WHERE ja.status IN ('interviewing', 'offer', 'accepted'))::int AS interviewing,
               count(*) FILTER (WHERE ja.status IN ('offer', 'accepted'))::int AS offers
          FROM public.job_applications ja
         WHERE ja.user_id = p_user_id
    )
    SELECT p.user_id, p.career_stage, p.target_industry_id, i.demand_index, p.available_study_hours_week,
           (current_date - coalesce(p.program_start_date, p.created_at::date))::int,
           prog.started, prog.completed, prog.critical, prog.avg_score, prog.secs_30d,
           skills.assessed, skills.proficient, cardinality(p.target_skill_ids), skills.target_proficient, skills.avg_prof,
           proj.total, proj.completed, proj.showcase, proj.avg_review,
           mock.n, mock.avg_score, mock.latest,
           coach.n, coach.avg_rating,
           EXISTS (SELECT 1 FROM public.mentorship_relationships r WHERE r.mentee_id = p.user_id AND r.status = 'active'),
           jobs.submitted, jobs.interviewing, jobs.offers,
           greatest(prog.last_at, p.last_active_at)
      FROM p
      LEFT JOIN public.industry_sectors i ON i.industry_id = p.target_industry_id
     CROSS JOIN prog CROSS JOIN skills CROSS JOIN proj CROSS JOIN mock CROSS JOIN coach CROSS JOIN jobs
$$;

-- Mentor candidates for one learner with the raw features cs-matching scores: only mentors who
-- are active, accepting and have room, and not already in an open relationship with the learner.
-- Pre-ordered by industry match, expertise overlap and rating so p_limit keeps the plausible ones.
CREATE FUNCTION mentor_match_candidates(p_user_id uuid, p_limit integer DEFAULT 50)
    RETURNS TABLE (
        mentor_id              uuid,
        industry_match         boolean,
        expertise_overlap      integer,
        target_skill_count     integer,
        utc_offset_diff_minutes integer,
        remaining_capacity     integer,
        avg_rating             numeric,
        rating_count           integer,
        successful_placements  integer,
        years_experience       numeric,
        is_career_changer      boolean,
        shared_language        boolean,
        mentored_before        boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH l AS (
        SELECT ucp.user_id, ucp.target_industry_id, ucp.target_skill_ids, ucp.utc_offset_minutes
          FROM public.user_career_profiles ucp WHERE ucp.user_id = p_user_id
    )
    SELECT m.mentor_id,
           m.industry_id IS NOT DISTINCT FROM l.target_industry_id AND l.target_industry_id IS NOT NULL,
           (SELECT count(*) FROM unnest(m.expertise_skill_ids) s WHERE s = ANY (l.target_skill_ids))::int AS overlap,
           cardinality(l.target_skill_ids),
           CASE WHEN l.utc_offset_minutes IS NULL THEN NULL
                ELSE least(abs(m.utc_offset_minutes - l.utc_offset_minutes),
                           1440 - abs(m.utc_offset_minutes - l.utc_offset_minutes)) END,
           (m.max_mentees - m.current_mentee_count)::int,
           m.avg_rating, m.rating_count, m.successful_placements, m.years_experience, m.is_career_changer,
           'en' = ANY (m.languages),
           EXISTS (SELECT 1 FROM public.mentorship_relationships r
                    WHERE r.mentor_id = m.mentor_id AND r.mentee_id = l.user_id)
      FROM l
      JOIN public.mentor_profiles m
        ON m.is_active AND m.accepting_new_mentees AND m.current_mentee_count < m.max_mentees
     WHERE NOT EXISTS (SELECT 1 FROM public.mentorship_relationships r
                        WHERE r.mentor_id = m.mentor_id AND r.mentee_id = l.user_id
                          AND r.status IN ('proposed', 'active', 'paused'))
     ORDER BY 2 DESC, overlap DESC, m.avg_rating DESC NULLS LAST, m.mentor_id
     LIMIT greatest(p_limit, 1)
$$;

-- Career-goal-aware content recommendations for one learner (the scoring lives only here):
--   + 3 when the content is relevant to the learner's target industry
--   + 2 per target skill the content teaches that the learner has not yet proven (>= 70)
--   + 2 when it is career-critical
--   + interview_relevance / 2.5 (0..2) once the learner is job-ready or searching
--   - 0.75 per difficulty level away from the learner's level (beginner 1, intermediate 3, advanced 5)
-- Published content only, excluding what the learner completed. Runs with the caller's rights:
-- under row-level security a learner can only ask for themselves.
CREATE FUNCTION recommend_content(p_user_id uuid, p_limit integer DEFAULT 10)
    RETURNS TABLE (content_id uuid, title text, content_type text, score numeric, reasons text[])
    LANGUAGE sql STABLE
AS $$
    WITH l AS (
        SELECT ucp.user_id, ucp.target_industry_id, ucp.target_skill_ids, ucp.career_stage,
               CASE ucp.experience_level WHEN 'beginner' THEN 1 WHEN 'intermediate' THEN 3 ELSE 5 END AS level
          FROM user_career_profiles ucp WHERE ucp.user_id = p_user_id
    ), proven AS (
        SELECT DISTINCT usa.skill_id FROM user_skill_assessments usa
         WHERE usa.user_id = p_user_id AND usa.proficiency_score >= 70
    ), scored AS (
        SELECT c.content_id, c.title, c.content_type,
               (CASE WHEN l.target_industry_id = ANY (c.industry_relevance) THEN 3 ELSE 0 END
                + 2 * (SELECT count(*) FROM unnest(c.skill_ids) s
                        WHERE s = ANY (l.target_skill_ids) AND s NOT IN (SELECT skill_id FROM proven))
                + CASE WHEN c.is_career_critical THEN 2 ELSE 0 END
                + CASE WHEN l.career_stage IN ('job_ready', 'job_searching') THEN c.interview_relevance / 2.5 ELSE 0 END
                - 0.75 * abs(c.difficulty_level - l.level))::numeric(8,2) AS score,
               array_remove(ARRAY[
                   CASE WHEN l.target_industry_id = ANY (c.industry_relevance) THEN 'target_industry' END,
                   CASE WHEN c.skill_ids && l.target_skill_ids THEN 'target_skill_gap' END,
                   CASE WHEN c.is_career_critical THEN 'career_critical' END,
                   CASE WHEN l.career_stage IN ('job_ready', 'job_searching') AND c.interview_relevance >= 3
                        THEN 'interview_preparation' END], NULL) AS reasons
          FROM l
          JOIN content_chunks c ON c.status = 'published'
         WHERE NOT EXISTS (SELECT 1 FROM user_progress up
                            WHERE up.user_id = l.user_id AND up.content_id = c.content_id
                              AND up.status IN ('completed', 'mastered'))
    )
    SELECT s.content_id, s.title, s.content_type, s.score, s.reasons
      FROM scored s
     ORDER BY s.score DESC, s.content_id
     LIMIT greatest(p_limit, 1)
$$;

-- Replaces the payload of every audit row of a learner with the redaction marker. The hash
-- chain covers payload_sha256, not the payload, so it still verifies. Returns rows redacted.
CREATE FUNCTION audit_redact_user(p_user_id uuid) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE public.system_logs
       SET payload = public.cs_audit_redaction_marker()
     WHERE user_id = p_user_id AND payload <> public.cs_audit_redaction_marker();
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Anonymises employer feedback: of one graduate (p_user_id), or everything submitted before
-- p_submitted_before (retention). Ratings and curriculum suggestions stay for analytics; the
-- graduate link, the employer contact and free-text comments go. Returns rows anonymised.
CREATE FUNCTION anonymize_employer_feedback(p_user_id uuid DEFAULT NULL, p_submitted_before timestamptz DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF p_user_id IS NULL AND p_submitted_before IS NULL THEN
        RAISE EXCEPTION 'anonymize_employer_feedback needs a user or a cut-off time'
            USING ERRCODE = '22023';
    END IF;
    UPDATE public.employer_feedback f
       SET user_id = NULL,
           employer_contact_name = NULL,
           employer_contact_email = NULL,
           comments = NULL,
           employer_name = CASE WHEN f.consent_to_publish THEN f.employer_name END,
           anonymized_at = now()
     WHERE f.anonymized_at IS NULL
       AND (p_user_id IS NULL OR f.user_id = p_user_id)
       AND (p_submitted_before IS NULL OR f.submitted_at < p_submitted_before);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- GDPR right to erasure for one learner, in the caller's transaction:
--   1. records the learner in the permanent erasure ledger (erased_users), first, so a concurrent
--      or later event can never recreate them;
--   2. anonymises their employer feedback;
--   3. deletes the learner anchor; every learner-owned row goes with it (ON DELETE CASCADE), and
--      the mentors' mentee counts follow through their triggers;
--   4. redacts their audit payloads (the chain stays verifiable).
-- Idempotent: erasing an erased learner again changes nothing and reports zeros.
CREATE FUNCTION gdpr_erase_user(p_user_id uuid, p_request_event_id uuid DEFAULT NULL, p_reason text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newly boolean;
    n_feedback bigint;
    n_profile bigint;
    n_audit bigint;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION 'gdpr_erase_user needs a user_id' USING ERRCODE = '22004';
    END IF;
    INSERT INTO public.erased_users (user_id, request_event_id, reason)
    VALUES (p_user_id, p_request_event_id, coalesce(p_reason, 'gdpr_erasure_request'))
    ON CONFLICT (user_id) DO NOTHING;
    newly := FOUND;
    n_feedback := public.anonymize_employer_feedback(p_user_id, NULL);
    DELETE FROM public.user_career_profiles WHERE user_id = p_user_id;
    GET DIAGNOSTICS n_profile = ROW_COUNT;
    n_audit := public.audit_redact_user(p_user_id);
    RETURN jsonb_build_object('user_id', p_user_id, 'newly_erased', newly, 'profiles_deleted', n_profile,
                              'feedback_anonymized', n_feedback, 'audit_rows_redacted', n_audit);
END
$$;

-- True when the learner is in the erasure ledger (for consumers and the replay tool).
CREATE FUNCTION is_erased(p_user_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM public.erased_users WHERE user_id = p_user_id) $$;
