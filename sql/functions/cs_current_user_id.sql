-- sql/functions/cs_current_user_id.sql
--      The identity row-level security filters by (app.user_id), or NULL.

-- The learner (or mentor, expert, admin) on whose behalf this transaction runs, or NULL.
-- A malformed value is treated as unset rather than raising, so policies fail closed.
CREATE OR REPLACE FUNCTION cs_current_user_id() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v text := pg_catalog.current_setting('app.user_id', true);
BEGIN
    IF v IS NULL OR v !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        RETURN NULL;
    END IF;
    RETURN v::uuid;
END
$$;
