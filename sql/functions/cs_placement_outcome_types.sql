-- sql/functions/cs_placement_outcome_types.sql
--      The outcome types that count as a placement (analytics views).

CREATE OR REPLACE FUNCTION cs_placement_outcome_types() RETURNS text[]
    LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['job_offer_accepted', 'promotion', 'freelance', 'internship'] $$;
