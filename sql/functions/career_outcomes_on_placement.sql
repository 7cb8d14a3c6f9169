-- sql/functions/career_outcomes_on_placement.sql
--      Trigger: an accepted offer is a milestone, and a placement for the attributed mentor.
--
-- Attached by 0020_triggers.sql.

-- An accepted offer is a milestone, and a placement for the attributed mentor.
CREATE OR REPLACE FUNCTION career_outcomes_on_placement() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.outcome_type = 'job_offer_accepted' THEN
        INSERT INTO public.career_milestones (user_id, milestone_type, reference_id, title, achieved_at, significance, points)
        VALUES (NEW.user_id, 'offer_received', NEW.outcome_id,
                'Accepted an offer' || coalesce(' as ' || NEW.job_title, ''), NEW.outcome_at, 'transformational', 1000)
        ON CONFLICT DO NOTHING;
        IF NEW.attributed_mentor_id IS NOT NULL THEN
            UPDATE public.mentor_profiles SET successful_placements = successful_placements + 1
             WHERE mentor_id = NEW.attributed_mentor_id;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
