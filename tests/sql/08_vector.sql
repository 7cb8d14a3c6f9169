-- tests/sql/08_vector.sql
--      Embeddings: pgvector with HNSW cosine indexes when the server has it, real[] with a length
--      check and an exact cosine function when it has not. Bookworm has no pgvector, so CI runs
--      the fallback branch; the other branch is checked wherever pgvector is installed.
BEGIN;
SELECT plan(7);

INSERT INTO embedding_models (model_id, model_name, provider, dimensions) VALUES (md5('m')::uuid, 'tap', 'tap', 384);
INSERT INTO content_chunks (content_id, content_type, title, body) VALUES (md5('c')::uuid, 'example', 't', 'b');

SELECT CASE WHEN cs_has_vector() THEN
    is(format_type(atttypid, atttypmod), 'vector(384)', 'with pgvector the embedding column is vector(384)')
ELSE
    is(format_type(atttypid, atttypmod), 'real[]', 'without pgvector the embedding column falls back to real[]')
END FROM pg_attribute WHERE attrelid = 'content_embeddings'::regclass AND attname = 'embedding';

SELECT CASE WHEN cs_has_vector() THEN
    is((SELECT count(*)::int FROM pg_indexes WHERE tablename = 'content_embeddings' AND indexdef LIKE '%hnsw%vector_cosine_ops%'), 3,
       'three HNSW cosine indexes (content, industry context, job role)')
ELSE
    is((SELECT count(*)::int FROM pg_indexes WHERE tablename = 'content_embeddings' AND indexdef LIKE '%hnsw%'), 0,
       'no vector index on the fallback path')
END;

SELECT lives_ok(format($$INSERT INTO content_embeddings (content_id, model_id, embedding, industry_context_vector)
                          VALUES (md5('c')::uuid, md5('m')::uuid, '%s', '%s')$$,
                       CASE WHEN cs_has_vector() THEN '[' || array_to_string(array_fill(0.5, ARRAY[384]), ',') || ']'
                            ELSE array_fill(0.5, ARRAY[384])::text END,
                       CASE WHEN cs_has_vector() THEN '[' || array_to_string(array_fill(0.25, ARRAY[384]), ',') || ']'
                            ELSE array_fill(0.25, ARRAY[384])::text END),
                'a 384-dimension embedding is stored');
SELECT throws_ok(format($$INSERT INTO content_embeddings (content_id, model_id, chunk_index, embedding)
                           VALUES (md5('c')::uuid, md5('m')::uuid, 1, '%s')$$,
                        CASE WHEN cs_has_vector() THEN '[1,2,3]' ELSE '{1,2,3}' END),
                 CASE WHEN cs_has_vector() THEN '22000' ELSE '23514' END, NULL,
                 'an embedding of the wrong dimension is refused');
SELECT is(round(cs_cosine_similarity('{1,0,1}'::real[], '{1,0,1}'::real[])::numeric, 6), 1.000000::numeric,
          'cs_cosine_similarity of a vector with itself is 1');
SELECT is(ARRAY(SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                 WHERE (attrelid, attname) IN (('mentor_profiles'::regclass, 'expertise_embedding'),
                                               ('user_career_profiles'::regclass, 'goal_embedding'))),
          CASE WHEN cs_has_vector() THEN ARRAY['vector(384)', 'vector(384)'] ELSE ARRAY['real[]', 'real[]'] END,
          'mentor expertise and learner goal embeddings use the same type as content embeddings');
SELECT is(tap.eval(format('SELECT round(cs_embedding_similarity(%L, %L)::numeric, 4)',
                          CASE WHEN cs_has_vector() THEN '[1,0]' ELSE '{1,0}' END,
                          CASE WHEN cs_has_vector() THEN '[1,1]' ELSE '{1,1}' END)),
          '0.7071', 'cs_embedding_similarity is the cosine similarity on either path');

SELECT * FROM finish();
ROLLBACK;
