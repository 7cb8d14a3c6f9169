-- sql/functions/cs_seed_uuid.sql
--      The deterministic uuid of a seeded row (cs_seed's ids, for other tools).

-- The deterministic uuid of a seeded row.
CREATE OR REPLACE FUNCTION cs_seed_uuid(kind text, n bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT md5(kind || '-' || n)::uuid $$;
