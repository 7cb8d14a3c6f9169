-- sql/functions/cs_seed_rand.sql
--      A deterministic number in [0, 1) from a key (cs_seed).

-- A deterministic number in [0, 1) from a key.
CREATE OR REPLACE FUNCTION cs_seed_rand(key text) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (('x' || substr(md5(key), 1, 7))::bit(28)::int)::double precision / 268435456 $$;
