-- sql/functions/content_chunks_record_version.sql
--      Trigger: every version of a content chunk is kept in content_versions.
--
-- Attached by 0020_triggers.sql.
--
-- depends: cs_current_user_id

CREATE OR REPLACE FUNCTION content_chunks_record_version() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.version <> OLD.version THEN
        INSERT INTO public.content_versions (content_id, version_number, title, body, metadata, changed_by, change_summary)
        VALUES (NEW.content_id, NEW.version, NEW.title, NEW.body, NEW.metadata, public.cs_current_user_id(),
                nullif(current_setting('app.change_summary', true), ''))
        ON CONFLICT (content_id, version_number) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
