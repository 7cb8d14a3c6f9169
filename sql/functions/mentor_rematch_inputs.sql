-- sql/functions/mentor_rematch_inputs.sql
--      Everything cs-matcher needs to decide and assign a batch's rematches, in one statement.
--
-- cs-matcher calls it once per batch (docs/matcher.md):
--     SELECT * FROM mentor_rematch_inputs($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[],
--                                         $5::uuid[], $6::uuid[], $7)
-- with the learners the batch's events concern (p_user_ids), those of them who asked for a mentor
-- (p_requested: mentor_rematch_requested, the only trigger of a learner without a mentor), those
-- with a rated session in the batch (p_rated: only they need their recent ratings), the mentors
-- whose availability changed (p_mentor_ids: their active mentees are added to the learners), the
-- batch's readiness_score_changed events as two arrays of the same length, each event's learner
-- (p_stage_users) and trigger_event_id (p_stage_events), and how many recent session ratings the
-- low-ratings trigger looks at (p_ratings).
--
-- Rows of kind 'learner' (ordered by id): one per learner with a profile that can be rematched,
-- i.e. with an active relationship or in p_requested (no other learner can request anything, so
-- none other is read: most of a batch's learners have no mentor):
--   current_mentor_id / current_relationship_id: the learner's active relationship (the newest);
--   mentee_rank: for a mentee of a p_mentor_ids mentor, 1 for the newest active relationship of
--     that mentor, 2 for the next... (over capacity, the newest mentees are rematched first);
--   skill_ids: the current skill gaps, the target skills whose latest assessment is below 70 or
--     missing; industry_id, utc_offset_minutes, hours (study hours per week), embedding
--     (goal_embedding as real[], NULL when none);
--   excluded: mentors never proposed to the learner: every open (proposed, active, paused) or
--     declined relationship's mentor;
--   recent_ratings: for a learner of p_rated (else NULL), the learner's ratings (mentee_rating) of
--     the last p_ratings rated completed sessions with the current mentor, newest first;
--   last_proposal_at: the learner's last cs-matcher proposal (match_reasons.proposed_by), for the
--     cooldown;
--   stage_changed: one of the learner's p_stage_events is an emitted readiness change whose
--     stage differs from the stage of the emitted change before it (a learner's first emitted
--     change moves nothing).
-- Rows of kind 'mentor' (ordered by id): every mentor with room plus the p_mentor_ids ones:
--   capacity = max_mentees - active mentees - open proposals, 0 when the mentor is inactive, not
--   accepting, full, on leave or inactive; skill_ids = expertise_skill_ids; hours = available
--   hours per week; past_mentees = ended relationships; successful_placements as stored.
-- The per-learner reads are index probes of that learner's rows (idx_mentorship_by_mentee, the
-- sessions' (user_id, scheduled_at), the assessments' (user_id, skill_id, assessed_at)); the
-- learners come in by hash join, never by a scan of an array per row. The stage check is one
-- primary-key probe of career_readiness_history per (learner, event) pair and one for the change
-- before it: the six-argument version probed (user_id, source_event_id = ANY (p_stage_events))
-- per learner read, one index descent per element of the array, i.e. learners x events (1,087
-- learners and ~1,300 stage events: 5.7 million buffer hits, 12 s of a batch's read on
-- bench/pipeline.sh's all+progressx2; migration 0094).
-- SECURITY DEFINER: cs_worker_matching reads these rows through the function only. Migration
-- 0076 dropped the four-argument version, 0094 the six-argument one.

CREATE OR REPLACE FUNCTION mentor_rematch_inputs(p_user_ids uuid[], p_requested uuid[],
                                                 p_rated uuid[], p_mentor_ids uuid[],
                                                 p_stage_users uuid[], p_stage_events uuid[],
                                                 p_ratings integer)
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
    ), req AS (
        SELECT DISTINCT u AS user_id FROM unnest(p_requested) u
    ), rated AS (
        SELECT DISTINCT u AS user_id FROM unnest(p_rated) u
    ), cur AS (  -- each learner's newest active relationship
        SELECT DISTINCT ON (r.mentee_id) r.mentee_id, r.mentor_id, r.relationship_id
          FROM public.mentorship_relationships r JOIN who ON who.user_id = r.mentee_id
         WHERE r.status = 'active'
         ORDER BY r.mentee_id, r.started_at DESC NULLS LAST, r.relationship_id DESC
    ), l AS (  -- the learners who can be rematched: with a mentor, or asking
        SELECT ucp.*, cur.mentor_id AS cur_mentor, cur.relationship_id AS cur_rel,
               rated.user_id IS NOT NULL AS is_rated
          FROM public.user_career_profiles ucp
          JOIN who ON who.user_id = ucp.user_id
          LEFT JOIN cur ON cur.mentee_id = ucp.user_id
          LEFT JOIN req ON req.user_id = ucp.user_id
          LEFT JOIN rated ON rated.user_id = ucp.user_id
         WHERE cur.mentee_id IS NOT NULL OR req.user_id IS NOT NULL
    ), rt AS (  -- the last p_ratings rated, completed sessions of each rated learner with its mentor
        SELECT x.user_id, array_agg(x.mentee_rating::int ORDER BY x.scheduled_at DESC, x.session_id DESC) AS ratings
          FROM (SELECT cs.user_id, cs.mentee_rating, cs.scheduled_at, cs.session_id,
                       row_number() OVER (PARTITION BY cs.user_id
                                          ORDER BY cs.scheduled_at DESC, cs.session_id DESC) AS n
                  FROM l JOIN public.career_coaching_sessions cs
                    ON cs.user_id = l.user_id AND cs.mentor_id = l.cur_mentor
                 WHERE l.is_rated AND cs.mentee_rating IS NOT NULL AND cs.status = 'completed') x
         WHERE x.n <= p_ratings
         GROUP BY x.user_id
    ), sc AS (  -- the learners one of whose stage events moved the stage: a probe per pair
        SELECT DISTINCT s.user_id
          FROM unnest(p_stage_users, p_stage_events) s(user_id, event_id)
          JOIN public.career_readiness_history h
            ON h.user_id = s.user_id AND h.source_event_id = s.event_id
         WHERE h.emitted
           AND h.stage <> (SELECT h2.stage FROM public.career_readiness_history h2  -- none: NULL
                            WHERE h2.user_id = h.user_id AND h2.emitted
                              AND (h2.computed_at, h2.source_event_id) < (h.computed_at, h.source_event_id)
                            ORDER BY h2.computed_at DESC, h2.source_event_id DESC LIMIT 1)
    ), rc AS (  -- per mentor: open proposals and ended relationships, one pass (not a probe per mentor)
        SELECT r.mentor_id, count(*) FILTER (WHERE r.status = 'proposed') AS proposed,
               count(*) FILTER (WHERE r.status = 'ended') AS ended
          FROM public.mentorship_relationships r
         WHERE r.status IN ('proposed', 'ended')
         GROUP BY r.mentor_id
    )
    SELECT 'learner', l.user_id, l.cur_mentor, l.cur_rel, mt.rnk,
           l.target_industry_id, l.utc_offset_minutes::int, l.available_study_hours_week,
           (SELECT coalesce(array_agg(t.s ORDER BY t.o), '{}')
              FROM unnest(l.target_skill_ids) WITH ORDINALITY t(s, o)
             WHERE coalesce((SELECT a.proficiency_score FROM public.user_skill_assessments a
                              WHERE a.user_id = l.user_id AND a.skill_id = t.s
                              ORDER BY a.assessed_at DESC LIMIT 1), 0) < 70),
           l.goal_embedding::real[],
           rel.excluded,
           rt.ratings,
           rel.last_proposal_at,
           sc.user_id IS NOT NULL,
           NULL::int, NULL::int, NULL::numeric, NULL::int, NULL::int, NULL::int
      FROM l
      LEFT JOIN mentees mt ON mt.user_id = l.user_id AND mt.mentor_id = l.cur_mentor
      LEFT JOIN rt ON rt.user_id = l.user_id
      LEFT JOIN sc ON sc.user_id = l.user_id
      CROSS JOIN LATERAL (  -- the learner's relationships, one probe: exclusions and cooldown
          SELECT coalesce(array_agg(DISTINCT r.mentor_id ORDER BY r.mentor_id)
                              FILTER (WHERE r.status IN ('proposed', 'active', 'paused', 'declined')), '{}') AS excluded,
                 max(r.requested_at) FILTER (WHERE r.match_reasons ->> 'proposed_by' = 'cs-matcher') AS last_proposal_at
            FROM public.mentorship_relationships r
           WHERE r.mentee_id = l.user_id) rel
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

REVOKE EXECUTE ON FUNCTION mentor_rematch_inputs(uuid[], uuid[], uuid[], uuid[], uuid[], uuid[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mentor_rematch_inputs(uuid[], uuid[], uuid[], uuid[], uuid[], uuid[], integer) TO cs_worker_matching, cs_app_admin;
