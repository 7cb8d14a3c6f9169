-- sql/functions/cs_cosine_similarity.sql
--      Cosine similarity of two real[] vectors (the exact search without pgvector).

-- Cosine similarity of two equal-length real[] vectors (the fallback path's exact search);
-- NULL when a vector is NULL, empty, of a different length or all zeros.
CREATE OR REPLACE FUNCTION cs_cosine_similarity(a real[], b real[]) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN na = 0 OR nb = 0 THEN NULL ELSE dot / (sqrt(na) * sqrt(nb)) END
      FROM (SELECT sum(x::float8 * y) AS dot, sum(x::float8 * x) AS na, sum(y::float8 * y) AS nb
              FROM unnest(a, b) AS u(x, y)
             WHERE cardinality(a) = cardinality(b)
            HAVING count(*) > 0) s
$$;
