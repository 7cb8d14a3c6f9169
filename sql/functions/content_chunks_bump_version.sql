-- sql/functions/content_chunks_bump_version.sql
--      Trigger: a change of a chunk's title, body or metadata bumps its version.
--
-- Attached by 0020_triggers.sql.

-- Content versioning: a change of title, body or metadata bumps version (and publishing
-- stamps published_at); every version is kept in content_versions with who changed it
-- (app.user_id) and why (app.change_summary, optional).
CREATE OR REPLACE FUNCTION content_chunks_bump_version() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.title IS DISTINCT FROM OLD.title OR NEW.body IS DISTINCT FROM OLD.body
                             OR NEW.metadata IS DISTINCT FROM OLD.metadata) THEN
        NEW.version := OLD.version + 1;
    END IF;
    IF NEW.status = 'published' AND NEW.published_at IS NULL THEN
        NEW.published_at := now();
    END IF;
    RETURN NEW;
END
$$;
