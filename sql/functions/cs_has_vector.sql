-- sql/functions/cs_has_vector.sql
--      Whether pgvector is installed in this database.

-- True when the vector type is installed in this database.
CREATE OR REPLACE FUNCTION cs_has_vector() RETURNS boolean
    LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'vector') $$;
