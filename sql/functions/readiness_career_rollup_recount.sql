-- sql/functions/readiness_career_rollup_recount.sql
--      Recounts learners' readiness_career_rollups rows (latest proficiency per skill, job
--      application counts, active mentors, latest completed mock interview) from the raw rows
--      (NULL: every learner); p_part 'skills' or 'mock' recounts that part alone.
--
-- The migration's backfill (0081), what a TRUNCATE runs, and the exact fallback of
-- readiness_career_rollup_on_change for updated or deleted assessments ('skills') and mock
-- interviews ('mock'). A part alone, because the four tables' triggers may fire in any order within
-- one statement (an erasure's cascades delete the rows of all four before their statement triggers
-- run): a recount of every column there would count the applications already deleted, then
-- the applications' trigger would subtract them once more. Each
-- column is one learner's index probes of user_skill_assessments (user_id, skill_id, assessed_at),
-- job_applications (user_id, applied_at), mentorship_relationships (mentee_id, status) and
-- interview_preparation (user_id, completed_at); a learner with nothing left loses its row.
--
-- Concurrency (READ COMMITTED, as every worker runs): the learners' rows are locked first and the
-- count is a later statement, so it sees every transaction that changed the learner's rows and
-- applied its part before the lock; one that has not applied it yet applies it on top of the
-- recount (its rows are not in the snapshot the count reads).

CREATE OR REPLACE FUNCTION readiness_career_rollup_recount(p_user_ids uuid[], p_part text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid[] := p_user_ids;
    all_parts boolean := p_part IS NULL;
    skills_part boolean := p_part IS NULL OR p_part = 'skills';
    mock_part boolean := p_part IS NULL OR p_part = 'mock';
BEGIN
    IF p_part IS NOT NULL AND (p_part NOT IN ('skills', 'mock') OR ids IS NULL) THEN
        RAISE EXCEPTION 'readiness_career_rollup_recount: part % needs learners, and is ''skills'' or ''mock''', p_part;
    END IF;
    IF ids IS NULL THEN
        LOCK TABLE public.readiness_career_rollups IN SHARE ROW EXCLUSIVE MODE;
        DELETE FROM public.readiness_career_rollups;
        ids := ARRAY(SELECT s.user_id FROM public.user_skill_assessments s
                     UNION SELECT j.user_id FROM public.job_applications j
                     UNION SELECT m.mentee_id FROM public.mentorship_relationships m
                     UNION SELECT ip.user_id FROM public.interview_preparation ip);
    END IF;
    INSERT INTO public.readiness_career_rollups (user_id)
    SELECT DISTINCT u.user_id FROM unnest(ids) AS u(user_id) WHERE u.user_id IS NOT NULL ORDER BY 1
    ON CONFLICT (user_id) DO NOTHING;
    PERFORM 1 FROM public.readiness_career_rollups r WHERE r.user_id = ANY (ids) ORDER BY r.user_id FOR UPDATE;
    UPDATE public.readiness_career_rollups r
       SET skills = CASE WHEN skills_part THEN c.skills ELSE r.skills END,
           apps_submitted = CASE WHEN all_parts THEN c.submitted ELSE r.apps_submitted END,
           apps_interviewing = CASE WHEN all_parts THEN c.interviewing ELSE r.apps_interviewing END,
           apps_offers = CASE WHEN all_parts THEN c.offers ELSE r.apps_offers END,
           mentors_active = CASE WHEN all_parts THEN c.mentors ELSE r.mentors_active END,
           mock_at = CASE WHEN mock_part THEN c.mock_at ELSE r.mock_at END,
           mock_prep_id = CASE WHEN mock_part THEN c.mock_prep_id ELSE r.mock_prep_id END,
           mock_rating = CASE WHEN mock_part THEN c.mock_rating ELSE r.mock_rating END
      FROM (SELECT u.user_id,
                   CASE WHEN skills_part THEN (SELECT coalesce(jsonb_object_agg(l.skill_id, jsonb_build_array(
                                (extract(epoch FROM l.assessed_at) * 1000000)::bigint, l.proficiency_score)), '{}')
                      FROM (SELECT DISTINCT ON (s.skill_id) s.skill_id, s.assessed_at, s.proficiency_score
                              FROM public.user_skill_assessments s WHERE s.user_id = u.user_id
                             ORDER BY s.skill_id, s.assessed_at DESC, s.proficiency_score DESC) l) END AS skills,
                   j.submitted, j.interviewing, j.offers,
                   CASE WHEN all_parts THEN (SELECT count(*)::int FROM public.mentorship_relationships m
                     WHERE m.mentee_id = u.user_id AND m.status = 'active') END AS mentors,
                   k.mock_at, k.mock_prep_id, k.mock_rating
              FROM (SELECT DISTINCT x.user_id FROM unnest(ids) AS x(user_id)) u
             CROSS JOIN LATERAL (
                   SELECT count(*) FILTER (WHERE ja.status <> 'draft')::int AS submitted,
                          count(*) FILTER (WHERE ja.status IN ('interviewing', 'offer', 'accepted'))::int AS interviewing,
                          count(*) FILTER (WHERE ja.status IN ('offer', 'accepted'))::int AS offers
                     FROM public.job_applications ja WHERE all_parts AND ja.user_id = u.user_id) j
              LEFT JOIN LATERAL (
                   SELECT coalesce(ip.completed_at, '-infinity') AS mock_at, ip.prep_id AS mock_prep_id,
                          ip.readiness_rating AS mock_rating
                     FROM public.interview_preparation ip
                    WHERE mock_part AND ip.user_id = u.user_id AND ip.status = 'completed'
                    ORDER BY coalesce(ip.completed_at, '-infinity') DESC, ip.prep_id DESC LIMIT 1) k ON true) c
     WHERE r.user_id = c.user_id;
    DELETE FROM public.readiness_career_rollups r
     WHERE r.user_id = ANY (ids) AND r.skills = '{}' AND r.apps_submitted = 0 AND r.apps_interviewing = 0
       AND r.apps_offers = 0 AND r.mentors_active = 0 AND r.mock_at IS NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_career_rollup_recount(uuid[], text) FROM PUBLIC;
