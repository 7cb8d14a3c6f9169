-- sql/functions/recommend_content.sql
--      Career-goal-aware content recommendations for one learner.

-- Career-goal-aware content recommendations for one learner (the scoring lives only here):
--   + 3 when the content is relevant to the learner's target industry
--   + 2 per target skill the content teaches that the learner has not yet proven (>= 70)
--   + 2 when it is career-critical
--   + interview_relevance / 2.5 (0..2) once the learner is job-ready or searching
--   - 0.75 per difficulty level away from the learner's level (beginner 1, intermediate 3, advanced 5)
-- Published content only, excluding what the learner completed. Runs with the caller's rights:
-- under row-level security a learner can only ask for themselves.
CREATE OR REPLACE FUNCTION recommend_content(p_user_id uuid, p_limit integer DEFAULT 10)
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
