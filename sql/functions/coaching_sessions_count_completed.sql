-- sql/functions/coaching_sessions_count_completed.sql
--      Trigger: a completed coaching session counts toward its mentorship relationship.
--
-- Attached by 0020_triggers.sql; its WHEN clause (0059) skips sessions that are not completed or
-- belong to no relationship, and the function keeps its own check for the UPDATE case.

-- A completed coaching session counts toward its mentorship relationship.
CREATE OR REPLACE FUNCTION coaching_sessions_count_completed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status = 'completed' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'completed')
       AND NEW.relationship_id IS NOT NULL THEN
        UPDATE public.mentorship_relationships
           SET sessions_completed = sessions_completed + 1,
               last_session_at = greatest(coalesce(last_session_at, NEW.scheduled_at), NEW.scheduled_at)
         WHERE relationship_id = NEW.relationship_id;
    END IF;
    RETURN NULL;
END
$$;
