-- sql/functions/mentor_match_candidates.sql
--      The raw features of mentor matching for one learner (cs-matching weights them).
--
-- Includes expertise_similarity, the cosine similarity of the mentor's expertise embedding and the
-- learner's goal embedding (NULL when either is missing). A change of its return type needs a
-- versioned migration that drops it first (CREATE OR REPLACE cannot change it).
--
-- depends: cs_embedding_similarity

CREATE OR REPLACE FUNCTION mentor_match_candidates(p_user_id uuid, p_limit integer DEFAULT 50)
    RETURNS TABLE (
        mentor_id               uuid,
        industry_match          boolean,
        expertise_overlap       integer,
        target_skill_count      integer,
        utc_offset_diff_minutes integer,
        remaining_capacity      integer,
        avg_rating              numeric,
        rating_count            integer,
        successful_placements   integer,
        years_experience        numeric,
        is_career_changer       boolean,
        shared_language         boolean,
        mentored_before         boolean,
        expertise_similarity    double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH l AS (
        SELECT ucp.user_id, ucp.target_industry_id, ucp.target_skill_ids, ucp.utc_offset_minutes, ucp.goal_embedding
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
                    WHERE r.mentor_id = m.mentor_id AND r.mentee_id = l.user_id),
           public.cs_embedding_similarity(m.expertise_embedding, l.goal_embedding)
      FROM l
      JOIN public.mentor_profiles m
        ON m.is_active AND m.accepting_new_mentees AND m.current_mentee_count < m.max_mentees
     WHERE NOT EXISTS (SELECT 1 FROM public.mentorship_relationships r
                        WHERE r.mentor_id = m.mentor_id AND r.mentee_id = l.user_id
                          AND r.status IN ('proposed', 'active', 'paused'))
     ORDER BY 2 DESC, overlap DESC, m.avg_rating DESC NULLS LAST, m.mentor_id
     LIMIT greatest(p_limit, 1)
$$;

REVOKE EXECUTE ON FUNCTION mentor_match_candidates(uuid,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mentor_match_candidates(uuid,integer) TO cs_worker_matching, cs_app_admin;
