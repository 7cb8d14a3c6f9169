-- sql/functions/mentorship_check_capacity.sql
--      Trigger: a relationship becomes active only while its mentor has room (CS003).
--
-- Attached by 0020_triggers.sql.

-- Mentor capacity. Activating a relationship locks the mentor row, so concurrent activations
-- queue, then counts the mentor's active relationships against max_mentees.
CREATE OR REPLACE FUNCTION mentorship_check_capacity() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    active_count integer;
BEGIN
    IF NEW.status = 'active' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'active'
                                  OR OLD.mentor_id <> NEW.mentor_id) THEN
        SELECT mp.max_mentees, mp.is_active, mp.accepting_new_mentees INTO m
          FROM public.mentor_profiles mp WHERE mp.mentor_id = NEW.mentor_id FOR UPDATE;
        IF NOT FOUND THEN
            RETURN NEW; -- the foreign key reports the unknown mentor
        END IF;
        IF NOT m.is_active THEN
            RAISE EXCEPTION 'mentor % is not active', NEW.mentor_id USING ERRCODE = 'CS003';
        END IF;
        SELECT count(*) INTO active_count FROM public.mentorship_relationships r
         WHERE r.mentor_id = NEW.mentor_id AND r.status = 'active' AND r.relationship_id <> NEW.relationship_id;
        IF active_count >= m.max_mentees THEN
            RAISE EXCEPTION 'mentor % is at capacity (% of % mentees)', NEW.mentor_id, active_count, m.max_mentees
                USING ERRCODE = 'CS003', HINT = 'Rematch the mentee with mentor_match_candidates().';
        END IF;
        NEW.started_at := coalesce(NEW.started_at, now());
    END IF;
    IF NEW.status IN ('ended', 'declined') AND NEW.ended_at IS NULL THEN
        NEW.ended_at := now();
    END IF;
    RETURN NEW;
END
$$;
