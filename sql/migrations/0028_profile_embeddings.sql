-- sql/migrations/0028_profile_embeddings.sql
--      Embeddings for mentor matching: a mentor's expertise and a learner's career goal, with the
--      same pgvector / real[] choice as content_embeddings (0011), and mentor_match_candidates()
--      reporting their cosine similarity as one more raw feature for cs-matching.
--
-- With pgvector the columns are vector(384) and mentors get an HNSW cosine index (nearest
-- mentors to a goal); without it they are real[] checked for 384 dimensions and similarity is
-- computed exactly by cs_cosine_similarity(). cs_embedding_similarity(a, b) hides the difference:
-- callers write the same SQL on both kinds of server. The learner's column is nullable without
-- an index, so placeholder inserts and progress updates pay nothing for it.

DO $emb$
DECLARE
    has_vec constant boolean := cs_has_vector();
    vec_type constant text := CASE WHEN cs_has_vector() THEN 'vector(384)' ELSE 'real[]' END;
    vec_schema text;
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('mentor_profiles', 'expertise_embedding'),
                                   ('user_career_profiles', 'goal_embedding')) AS v(tbl, col) LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN %I %s%s', t.tbl, t.col, vec_type,
                       CASE WHEN has_vec THEN ''
                            ELSE format(' CHECK (%1$I IS NULL OR (array_ndims(%1$I) = 1 AND array_length(%1$I, 1) = 384))', t.col)
                       END);
    END LOOP;

    IF has_vec THEN
        -- Qualified, so it also works (and inlines) under the pinned search_path of SECURITY
        -- DEFINER callers such as mentor_match_candidates().
        SELECT n.nspname INTO vec_schema
          FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'vector';
        EXECUTE format($f$CREATE FUNCTION cs_embedding_similarity(a %1$I.vector, b %1$I.vector) RETURNS double precision
                          LANGUAGE sql IMMUTABLE PARALLEL SAFE
                          AS 'SELECT 1 - (a OPERATOR(%1$I.<=>) b)'$f$, vec_schema);
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_am WHERE amname = 'hnsw') THEN
            EXECUTE 'CREATE INDEX idx_mentor_expertise_vector_search ON mentor_profiles
                     USING hnsw (expertise_embedding vector_cosine_ops)';
        END IF;
    ELSE
        EXECUTE $f$CREATE FUNCTION cs_embedding_similarity(a real[], b real[]) RETURNS double precision
                   LANGUAGE sql IMMUTABLE PARALLEL SAFE
                   AS 'SELECT public.cs_cosine_similarity(a, b)'$f$;
    END IF;
END
$emb$;

-- mentor_match_candidates() of 0021 plus expertise_similarity (NULL when either embedding is
-- missing). The return type changes, so the function is dropped and created again.
DROP FUNCTION mentor_match_candidates(uuid, integer);
CREATE FUNCTION mentor_match_candidates(p_user_id uuid, p_limit integer DEFAULT 50)
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
REVOKE EXECUTE ON FUNCTION mentor_match_candidates(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mentor_match_candidates(uuid, integer) TO cs_worker_matching, cs_app_admin;
