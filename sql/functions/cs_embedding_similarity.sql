-- sql/functions/cs_embedding_similarity.sql
--      Cosine similarity of two embeddings, with or without pgvector.
--
-- With pgvector the embedding columns are vector(384) and this is 1 - (a <=> b); without it they
-- are real[] and it is cs_cosine_similarity(a, b), exact. Callers write the same SQL on both
-- kinds of server (mentor_match_candidates). The vector form names the extension's schema, so it
-- also works (and inlines) under the pinned search_path of SECURITY DEFINER callers.
--
-- depends: cs_has_vector, cs_cosine_similarity

DO $emb$
DECLARE
    vec_schema text;
BEGIN
    IF cs_has_vector() THEN
        SELECT n.nspname INTO vec_schema
          FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'vector';
        EXECUTE format($f$CREATE OR REPLACE FUNCTION cs_embedding_similarity(a %1$I.vector, b %1$I.vector)
                          RETURNS double precision
                          LANGUAGE sql IMMUTABLE PARALLEL SAFE
                          AS 'SELECT 1 - (a OPERATOR(%1$I.<=>) b)'$f$, vec_schema);
    ELSE
        EXECUTE $f$CREATE OR REPLACE FUNCTION cs_embedding_similarity(a real[], b real[]) RETURNS double precision
                   LANGUAGE sql IMMUTABLE PARALLEL SAFE
                   AS 'SELECT public.cs_cosine_similarity(a, b)'$f$;
    END IF;
END
$emb$;
