-- sql/migrations/0028_profile_embeddings.sql
--      Embeddings for mentor matching: a mentor's expertise and a learner's career goal, with the
--      same pgvector / real[] choice as content_embeddings (0011); mentor_match_candidates()
--      (sql/functions/) reports their cosine similarity as one more raw feature for cs-matching.
--
-- With pgvector the columns are vector(384) and mentors get an HNSW cosine index (nearest
-- mentors to a goal); without it they are real[] checked for 384 dimensions and similarity is
-- computed exactly by cs_cosine_similarity(); cs_embedding_similarity(a, b) hides the difference.
-- The learner's column is nullable without an index, so placeholder inserts and progress updates
-- pay nothing for it.
-- requires: cs_has_vector

DO $emb$
DECLARE
    has_vec constant boolean := cs_has_vector();
    vec_type constant text := CASE WHEN cs_has_vector() THEN 'vector(384)' ELSE 'real[]' END;
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('mentor_profiles', 'expertise_embedding'),
                                   ('user_career_profiles', 'goal_embedding')) AS v(tbl, col) LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN %I %s%s', t.tbl, t.col, vec_type,
                       CASE WHEN has_vec THEN ''
                            ELSE format(' CHECK (%1$I IS NULL OR (array_ndims(%1$I) = 1 AND array_length(%1$I, 1) = 384))', t.col)
                       END);
    END LOOP;

    IF has_vec AND EXISTS (SELECT 1 FROM pg_catalog.pg_am WHERE amname = 'hnsw') THEN
        EXECUTE 'CREATE INDEX idx_mentor_expertise_vector_search ON mentor_profiles
                 USING hnsw (expertise_embedding vector_cosine_ops)';
    END IF;
END
$emb$;
