-- sql/migrations/0011_embeddings.sql
--      Embedding models and content embeddings, with pgvector when the server has it.
--
-- Two paths, both applying cleanly:
--   * pgvector installed (0001 created the extension): the three vector columns are vector(384)
--     and carry HNSW indexes with vector_cosine_ops (when the installed pgvector has HNSW);
--   * no pgvector (Debian bookworm ships none): the columns are real[] with a length check and no
--     index, and cs_cosine_similarity(real[], real[]) gives an exact (sequential) search.
-- Application code reads the column type from cs_has_vector() rather than guessing.
-- requires: cs_has_vector

CREATE TABLE embedding_models (
    model_id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    model_name                text        NOT NULL,
    provider                  text        NOT NULL,
    model_version             text        NOT NULL DEFAULT '1',
    dimensions                integer     NOT NULL CHECK (dimensions = 384),
    distance_metric           text        NOT NULL DEFAULT 'cosine' CHECK (distance_metric IN ('cosine', 'l2', 'inner_product')),
    max_input_tokens          integer     NOT NULL DEFAULT 512 CHECK (max_input_tokens > 0),
    is_career_optimized       boolean     NOT NULL DEFAULT false,
    supports_industry_context boolean     NOT NULL DEFAULT false,
    supports_job_role_vectors boolean     NOT NULL DEFAULT false,
    training_data_cutoff      date,
    cost_per_1k_tokens_usd    numeric(10,6) CHECK (cost_per_1k_tokens_usd >= 0),
    avg_latency_ms            numeric(8,2) CHECK (avg_latency_ms >= 0),
    is_default                boolean     NOT NULL DEFAULT false,
    is_active                 boolean     NOT NULL DEFAULT true,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_name, model_version)
);
CREATE UNIQUE INDEX idx_embedding_models_single_default ON embedding_models (is_default) WHERE is_default;

DO $emb$
DECLARE
    vec_type text := CASE WHEN cs_has_vector() THEN 'vector(384)' ELSE 'real[]' END;
    dim_check text := CASE WHEN cs_has_vector() THEN ''
                           ELSE ' CHECK (%s IS NULL OR (array_ndims(%s) = 1 AND array_length(%s, 1) = 384))' END;
    has_hnsw boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_am WHERE amname = 'hnsw');
BEGIN
    EXECUTE format($t$
        CREATE TABLE content_embeddings (
            embedding_id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            content_id              uuid        NOT NULL REFERENCES content_chunks (content_id) ON DELETE CASCADE,
            model_id                uuid        NOT NULL REFERENCES embedding_models (model_id) ON DELETE RESTRICT,
            chunk_index             integer     NOT NULL DEFAULT 0 CHECK (chunk_index >= 0),
            embedding               %1$s NOT NULL %2$s,
            industry_context_vector %1$s %3$s,
            job_role_vector         %1$s %4$s,
            industry_id             uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
            job_role                text,
            token_count             integer     CHECK (token_count >= 0),
            source_sha256           bytea       CHECK (source_sha256 IS NULL OR length(source_sha256) = 32),
            embedded_at             timestamptz NOT NULL DEFAULT now(),
            created_at              timestamptz NOT NULL DEFAULT now(),
            updated_at              timestamptz NOT NULL DEFAULT now(),
            UNIQUE (content_id, model_id, chunk_index)
        )$t$, vec_type,
        CASE WHEN dim_check = '' THEN '' ELSE format(dim_check, 'embedding', 'embedding', 'embedding') END,
        CASE WHEN dim_check = '' THEN '' ELSE format(dim_check, 'industry_context_vector', 'industry_context_vector', 'industry_context_vector') END,
        CASE WHEN dim_check = '' THEN '' ELSE format(dim_check, 'job_role_vector', 'job_role_vector', 'job_role_vector') END);

    IF cs_has_vector() AND has_hnsw THEN
        EXECUTE 'CREATE INDEX idx_content_semantic_search ON content_embeddings USING hnsw (embedding vector_cosine_ops)';
        -- The seed's vector search with career context.
        EXECUTE 'CREATE INDEX idx_industry_vector_search ON content_embeddings USING hnsw (industry_context_vector vector_cosine_ops)';
        EXECUTE 'CREATE INDEX idx_job_role_vector_search ON content_embeddings USING hnsw (job_role_vector vector_cosine_ops)';
    ELSE
        RAISE NOTICE 'pgvector with HNSW not available: content_embeddings uses % without vector indexes', vec_type;
    END IF;
END
$emb$;
CREATE INDEX idx_content_embeddings_model ON content_embeddings (model_id, content_id);
CREATE INDEX idx_content_embeddings_industry ON content_embeddings (industry_id) WHERE industry_id IS NOT NULL;
