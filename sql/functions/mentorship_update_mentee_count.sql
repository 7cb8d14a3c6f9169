-- sql/functions/mentorship_update_mentee_count.sql
--      Trigger: keeps mentor_profiles.current_mentee_count in step.
--
-- Attached by 0020_triggers.sql.

-- Keeps mentor_profiles.current_mentee_count (and availability 'full') in step.
CREATE OR REPLACE FUNCTION mentorship_update_mentee_count() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid[];
BEGIN
    ids := CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.mentor_id]
                      WHEN 'DELETE' THEN ARRAY[OLD.mentor_id]
                      ELSE ARRAY[OLD.mentor_id, NEW.mentor_id] END;
    UPDATE public.mentor_profiles mp
       SET current_mentee_count = c.n,
           availability_status = CASE
               WHEN mp.availability_status IN ('on_leave', 'inactive') THEN mp.availability_status
               WHEN c.n >= mp.max_mentees THEN 'full'
               WHEN c.n >= mp.max_mentees - 1 THEN 'limited'
               ELSE 'available' END
      FROM (SELECT m.id, (SELECT count(*) FROM public.mentorship_relationships r
                           WHERE r.mentor_id = m.id AND r.status = 'active') AS n
              FROM unnest(ids) AS m(id)) c
     WHERE mp.mentor_id = c.id;
    RETURN NULL;
END
$$;
