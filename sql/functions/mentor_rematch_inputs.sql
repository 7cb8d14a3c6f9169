-- sql/functions/mentor_rematch_inputs.sql
--      Everything cs-matcher needs to decide and assign a batch's rematches, in one statement.
--
-- cs-matcher calls it once per batch (docs/matcher.md):
--     SELECT * FROM mentor_rematch_inputs($1::uuid[], $2::uuid[], $3::uuid[], $4)
-- with the learners the batch's events concern (p_user_ids), the mentors whose availability
-- changed (p_mentor_ids: their active mentees are added to the learners), the trigger_event_ids
-- of the batch's readiness_score_changed events (p_stage_events) and how many recent session
-- ratings the low-ratings trigger looks at (p_ratings).
--
-- Rows of kind 'learner' (one per learner with a profile, ordered by id):
--   current_mentor_id / current_relationship_id: the learner's active relationship (the newest);
--   mentee_rank: for a mentee of a p_mentor_ids mentor, 1 for the newest active relationship of
--     that mentor, 2 for the next... (over capacity, the newest mentees are rematched first);
--   skill_ids: the current skill gaps, the target skills whose latest assessment is below 70 or
--     missing; industry_id, utc_offset_minutes, hours (study hours per week), embedding
--     (goal_embedding as real[], NULL when none);
--   excluded: mentors never proposed to the learner: every open (proposed, active, paused) or
--     declined relationship's mentor;
--   recent_ratings: the learner's ratings (mentee_rating) of the last p_ratings rated completed
--     sessions with the current mentor, newest first;
--   last_proposal_at: the learner's last cs-matcher proposal (match_reasons.proposed_by), for the
--     cooldown;
--   stage_changed: one of p_stage_events is an emitted readiness change of this learner whose
--     stage differs from the stage of the emitted change before it.
-- Rows of kind 'mentor' (ordered by id): every mentor with room plus the p_mentor_ids ones:
--   capacity = max_mentees - active mentees - open proposals, 0 when the mentor is inactive, not
--   accepting, full, on leave or inactive; skill_ids = expertise_skill_ids; hours = available
--   hours per week; past_mentees = ended relationships; successful_placements as stored.
-- SECURITY DEFINER: cs_worker_matching reads these rows through the function only.

CREATE OR REPLACE FUNCTION mentor_rematch_inputs(p_user_ids uuid[], p_mentor_ids uuid[],
                                                 p_stage_events uuid[], p_ratings integer)
    RETURNS TABLE (
        kind                    text,
        id                      uuid,
        current_mentor_id       uuid,
        current_relationship_id uuid,
        mentee_rank             integer,
        industry_id             uuid,
        utc_offset_minutes      integer,
        hours                   numeric,
        skill_ids               uuid[],
        embedding               real[],
        excluded                uuid[],
        recent_ratings          integer[],
        last_proposal_at        timestamptz,
        stage_changed           boolean,
        max_mentees             integer,
        capacity                integer,
        avg_rating              numeric,
        rating_count            integer,
        past_mentees            integer,
        successful_placements   integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH mentees AS (
        SELECT r.mentee_id AS user_id, r.mentor_id,
               row_number() OVER (PARTITION BY r.mentor_id
                                  ORDER BY r.started_at DESC NULLS LAST, r.relationship_id DESC)::int AS rnk
          FROM public.mentorship_relationships r
         WHERE r.mentor_id = ANY (p_mentor_ids) AND r.status = 'active'
    ), who AS (
        SELECT u AS user_id FROM unnest(p_user_ids) u
        UNION SELECT user_id FROM mentees
    ), l AS (
        SELECT ucp.* FROM public.user_career_profiles ucp JOIN who ON who.user_id = ucp.user_id
    ), rc AS (  -- per mentor: open proposals and ended relationships, one pass (not a probe per mentor)
        SELECT r.mentor_id, count(*) FILTER (WHERE r.status = 'proposed') AS proposed,
               count(*) FILTER (WHERE r.status = 'ended') AS ended
          FROM public.mentorship_relationships r
         WHERE r.status IN ('proposed', 'ended')
         GROUP BY r.mentor_id
    ), cur AS (
        SELECT DISTINCT ON (r.mentee_id) r.mentee_id, r.mentor_id, r.relationship_id
          FROM public.mentorship_relationships r JOIN l ON l.user_id = r.mentee_id
         WHERE r.status = 'active'
         ORDER BY r.mentee_id, r.started_at DESC NULLS LAST, r.relationship_id DESC
    )
    SELECT 'learner', l.user_id, cur.mentor_id, cur.relationship_id,
           (SELECT min(m.rnk) FROM mentees m WHERE m.user_id = l.user_id AND m.mentor_id = cur.mentor_id),
           l.target_industry_id, l.utc_offset_minutes::int, l.available_study_hours_week,
           (SELECT coalesce(array_agg(t.s ORDER BY t.o), '{}')
              FROM unnest(l.target_skill_ids) WITH ORDINALITY t(s, o)
             WHERE coalesce((SELECT a.proficiency_score FROM public.user_skill_assessments a
                              WHERE a.user_id = l.user_id AND a.skill_id = t.s
                              ORDER BY a.assessed_at DESC LIMIT 1), 0) < 70),
           l.goal_embedding::real[],
           (SELECT coalesce(array_agg(DISTINCT r.mentor_id ORDER BY r.mentor_id), '{}')
              FROM public.mentorship_relationships r
             WHERE r.mentee_id = l.user_id AND r.status IN ('proposed', 'active', 'paused', 'declined')),
           (SELECT coalesce(array_agg(s.mentee_rating::int ORDER BY s.scheduled_at DESC, s.session_id DESC), '{}')
              FROM (SELECT cs.mentee_rating, cs.scheduled_at, cs.session_id
                      FROM public.career_coaching_sessions cs
                     WHERE cs.user_id = l.user_id AND cs.mentor_id = cur.mentor_id
                       AND cs.mentee_rating IS NOT NULL AND cs.status = 'completed'
                     ORDER BY cs.scheduled_at DESC, cs.session_id DESC
                     LIMIT greatest(p_ratings, 0)) s),
           (SELECT max(r.requested_at) FROM public.mentorship_relationships r
             WHERE r.mentee_id = l.user_id AND r.match_reasons ->> 'proposed_by' = 'cs-matcher'),
           EXISTS (SELECT 1 FROM public.career_readiness_history h
                    WHERE h.user_id = l.user_id AND h.source_event_id = ANY (p_stage_events) AND h.emitted
                      AND h.stage IS DISTINCT FROM
                          (SELECT h2.stage FROM public.career_readiness_history h2
                            WHERE h2.user_id = h.user_id AND h2.emitted
                              AND (h2.computed_at, h2.source_event_id) < (h.computed_at, h.source_event_id)
                            ORDER BY h2.computed_at DESC, h2.source_event_id DESC LIMIT 1)
                      AND EXISTS (SELECT 1 FROM public.career_readiness_history h3
                                   WHERE h3.user_id = h.user_id AND h3.emitted
                                     AND (h3.computed_at, h3.source_event_id) < (h.computed_at, h.source_event_id))),
           NULL::int, NULL::int, NULL::numeric, NULL::int, NULL::int, NULL::int
      FROM l LEFT JOIN cur ON cur.mentee_id = l.user_id
    UNION ALL
    SELECT 'mentor', m.mentor_id, NULL, NULL, NULL, m.industry_id, m.utc_offset_minutes::int,
           m.available_hours_per_week, m.expertise_skill_ids, m.expertise_embedding::real[],
           NULL, NULL, NULL, NULL, m.max_mentees::int,
           CASE WHEN m.is_active AND m.accepting_new_mentees
                     AND m.availability_status NOT IN ('full', 'on_leave', 'inactive')
                THEN greatest(m.max_mentees - m.current_mentee_count - coalesce(rc.proposed, 0), 0)::int
                ELSE 0 END,
           m.avg_rating, m.rating_count, coalesce(rc.ended, 0)::int, m.successful_placements
      FROM public.mentor_profiles m LEFT JOIN rc ON rc.mentor_id = m.mentor_id
     WHERE (m.is_active AND m.accepting_new_mentees AND m.current_mentee_count < m.max_mentees)
        OR m.mentor_id = ANY (p_mentor_ids)
     ORDER BY 1 DESC, 2
$$;

REVOKE EXECUTE ON FUNCTION mentor_rematch_inputs(uuid[], uuid[], uuid[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mentor_rematch_inputs(uuid[], uuid[], uuid[], integer) TO cs_worker_matching, cs_app_admin;
