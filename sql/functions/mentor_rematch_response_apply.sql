-- sql/functions/mentor_rematch_response_apply.sql
--      Trigger: a learner's answer to a rematch proposal -> mentorship_relationships.
--
-- Attached by 0073_matcher.sql (BEFORE INSERT on mentor_rematch_responses, row level: cs-matcher
-- writes a batch's answers in one statement, COPY included). The proposal is the relationship
-- whose relationship_id is the answer's proposal_id (mentor_rematch_proposed.proposal_id); it
-- must belong to the answering learner and still be 'proposed', else nothing changes and outcome
-- says why ('unknown_proposal', 'already_closed': a second answer, or an answer after the
-- proposal was withdrawn). Declined: the proposal becomes 'declined' (that mentor is never
-- proposed to the learner again). Accepted: the learner's other active relationships end
-- (end_reason 'mentor_unavailable' when the proposal was made because the mentor became
-- unavailable or over capacity, else 'mismatch') and the proposal becomes 'active' from the
-- answer's time; if the mentor has no room any more (inactive, or max_mentees reached since the
-- proposal) nothing is activated, the proposal ends ('mentor_unavailable') and outcome is
-- 'mentor_full': the learner keeps their mentor and may ask again. The mentor row is locked
-- first, as mentorship_check_capacity does, so concurrent activations queue. SECURITY DEFINER,
-- as that trigger: locking a mentor row needs UPDATE on mentor_profiles, which the worker role
-- (cs_worker_matching: SELECT only) does not have.

CREATE OR REPLACE FUNCTION mentor_rematch_response_apply() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r public.mentorship_relationships%ROWTYPE;
    room boolean;
BEGIN
    SELECT * INTO r FROM public.mentorship_relationships
     WHERE relationship_id = NEW.proposal_id AND mentee_id = NEW.user_id FOR UPDATE;
    IF NOT FOUND THEN
        NEW.outcome := 'unknown_proposal';
        RETURN NEW;
    ELSIF r.status <> 'proposed' THEN
        NEW.outcome := 'already_closed';
        RETURN NEW;
    END IF;
    IF NEW.response = 'declined' THEN
        UPDATE public.mentorship_relationships SET status = 'declined', ended_at = NEW.responded_at
         WHERE relationship_id = r.relationship_id;
        NEW.outcome := 'declined';
        RETURN NEW;
    END IF;
    SELECT mp.is_active AND (SELECT count(*) FROM public.mentorship_relationships x
                              WHERE x.mentor_id = mp.mentor_id AND x.status = 'active') < mp.max_mentees
      INTO room
      FROM public.mentor_profiles mp WHERE mp.mentor_id = r.mentor_id FOR UPDATE;
    IF NOT coalesce(room, false) THEN
        UPDATE public.mentorship_relationships
           SET status = 'ended', ended_at = NEW.responded_at, end_reason = 'mentor_unavailable'
         WHERE relationship_id = r.relationship_id;
        NEW.outcome := 'mentor_full';
        RETURN NEW;
    END IF;
    UPDATE public.mentorship_relationships o
       SET status = 'ended', ended_at = greatest(NEW.responded_at, o.started_at),
           end_reason = CASE WHEN r.match_reasons ->> 'trigger' IN ('mentor_unavailable', 'mentor_over_capacity')
                             THEN 'mentor_unavailable' ELSE 'mismatch' END
     WHERE o.mentee_id = NEW.user_id AND o.status = 'active' AND o.relationship_id <> r.relationship_id;
    UPDATE public.mentorship_relationships SET status = 'active', started_at = NEW.responded_at
     WHERE relationship_id = r.relationship_id;
    NEW.outcome := 'activated';
    RETURN NEW;
END
$$;
