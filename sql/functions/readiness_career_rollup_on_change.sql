-- sql/functions/readiness_career_rollup_on_change.sql
--      Trigger: keeps readiness_career_rollups exact under every change of user_skill_assessments,
--      job_applications, mentorship_relationships and interview_preparation, once per statement.
--
-- Attached by 0081_readiness_career_rollups.sql to INSERT, UPDATE and DELETE of the four tables
-- (statement triggers with transition tables new_rows / old_rows; on the partitioned
-- job_applications they see the rows of every partition written through the parent); these run
-- inside cs-progress's transactions, so each firing is one set-based statement (two for a delete).
--  - user_skill_assessments, INSERT: per (learner, skill) the newest of the new rows (assessed_at,
--    then the higher proficiency_score) replaces the map's entry when it is newer (newer wins, so
--    any arrival order gives the recount's map, and merging rows a recount already saw changes
--    nothing). UPDATE and DELETE (erasure's cascade, retention; cs-progress only inserts) recount
--    the map of the learners they touched (readiness_career_rollup_recount(..., 'skills')).
--  - job_applications and mentorship_relationships: counts, so new rows add and old rows subtract
--    (a status change is both); a learner whose counts did not change is not written.
--  - interview_preparation, INSERT: the newest new completed mock interview per learner
--    (coalesce(completed_at, '-infinity'), then prep_id) replaces the stored one when greater.
--    UPDATE and DELETE recount that part for the learners of completed rows old or new (a delete,
--    or a mock interview no longer completed, can make an older one the latest).
-- Learners are applied in key order (concurrent batches lock rollup rows in one order); a delete
-- removes the rows it left empty. TRUNCATE recounts every learner.
-- depends: readiness_career_rollup_recount

CREATE OR REPLACE FUNCTION readiness_career_rollup_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM public.readiness_career_rollup_recount(NULL);
    ELSIF TG_TABLE_NAME = 'user_skill_assessments' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_career_rollups AS r (user_id, skills)
            SELECT l.user_id, jsonb_object_agg(l.skill_id, jsonb_build_array(
                       (extract(epoch FROM l.assessed_at) * 1000000)::bigint, l.proficiency_score))
              FROM (SELECT DISTINCT ON (n.user_id, n.skill_id) n.user_id, n.skill_id, n.assessed_at, n.proficiency_score
                      FROM new_rows n
                     ORDER BY n.user_id, n.skill_id, n.assessed_at DESC, n.proficiency_score DESC) l
             GROUP BY l.user_id ORDER BY l.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET skills = r.skills || coalesce(
                       (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(EXCLUDED.skills) AS e
                         WHERE NOT r.skills ? e.key
                            OR ((e.value ->> 0)::bigint, (e.value ->> 1)::numeric)
                               > (((r.skills -> e.key) ->> 0)::bigint, ((r.skills -> e.key) ->> 1)::numeric)), '{}');
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM public.readiness_career_rollup_recount(ARRAY(SELECT o.user_id FROM old_rows o
                                                                 UNION SELECT n.user_id FROM new_rows n), 'skills');
        ELSE
            PERFORM public.readiness_career_rollup_recount(ARRAY(SELECT DISTINCT o.user_id FROM old_rows o), 'skills');
        END IF;
    ELSIF TG_TABLE_NAME = 'interview_preparation' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_career_rollups AS r (user_id, mock_at, mock_prep_id, mock_rating)
            SELECT DISTINCT ON (n.user_id) n.user_id, coalesce(n.completed_at, '-infinity'), n.prep_id, n.readiness_rating
              FROM new_rows n WHERE n.status = 'completed'
             ORDER BY n.user_id, coalesce(n.completed_at, '-infinity') DESC, n.prep_id DESC
            ON CONFLICT (user_id) DO UPDATE
               SET mock_at = EXCLUDED.mock_at, mock_prep_id = EXCLUDED.mock_prep_id, mock_rating = EXCLUDED.mock_rating
             WHERE r.mock_at IS NULL OR (EXCLUDED.mock_at, EXCLUDED.mock_prep_id) > (r.mock_at, r.mock_prep_id);
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM public.readiness_career_rollup_recount(ARRAY(
                SELECT o.user_id FROM old_rows o WHERE o.status = 'completed'
                UNION SELECT n.user_id FROM new_rows n WHERE n.status = 'completed'), 'mock');
        ELSE
            PERFORM public.readiness_career_rollup_recount(ARRAY(
                SELECT DISTINCT o.user_id FROM old_rows o WHERE o.status = 'completed'), 'mock');
        END IF;
    ELSIF TG_TABLE_NAME = 'job_applications' THEN
        -- d: one row per application, s = +1 for a new row, -1 for an old one
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_career_rollups AS r (user_id, apps_submitted, apps_interviewing, apps_offers)
            SELECT n.user_id, count(*) FILTER (WHERE n.status <> 'draft'),
                   count(*) FILTER (WHERE n.status IN ('interviewing', 'offer', 'accepted')),
                   count(*) FILTER (WHERE n.status IN ('offer', 'accepted'))
              FROM new_rows n WHERE n.status <> 'draft'
             GROUP BY n.user_id ORDER BY n.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET apps_submitted = r.apps_submitted + EXCLUDED.apps_submitted,
                   apps_interviewing = r.apps_interviewing + EXCLUDED.apps_interviewing,
                   apps_offers = r.apps_offers + EXCLUDED.apps_offers;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO public.readiness_career_rollups AS r (user_id, apps_submitted, apps_interviewing, apps_offers)
            SELECT d.user_id, coalesce(sum(d.s) FILTER (WHERE d.status <> 'draft'), 0),
                   coalesce(sum(d.s) FILTER (WHERE d.status IN ('interviewing', 'offer', 'accepted')), 0),
                   coalesce(sum(d.s) FILTER (WHERE d.status IN ('offer', 'accepted')), 0)
              FROM (SELECT 1 AS s, n.user_id, n.status FROM new_rows n
                    UNION ALL
                    SELECT -1, o.user_id, o.status FROM old_rows o) d
             WHERE d.status <> 'draft'
             GROUP BY d.user_id
            HAVING sum(d.s) <> 0 OR sum(d.s) FILTER (WHERE d.status IN ('interviewing', 'offer', 'accepted')) <> 0
                OR sum(d.s) FILTER (WHERE d.status IN ('offer', 'accepted')) <> 0
             ORDER BY d.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET apps_submitted = r.apps_submitted + EXCLUDED.apps_submitted,
                   apps_interviewing = r.apps_interviewing + EXCLUDED.apps_interviewing,
                   apps_offers = r.apps_offers + EXCLUDED.apps_offers;
        ELSE
            INSERT INTO public.readiness_career_rollups AS r (user_id, apps_submitted, apps_interviewing, apps_offers)
            SELECT o.user_id, -count(*), -count(*) FILTER (WHERE o.status IN ('interviewing', 'offer', 'accepted')),
                   -count(*) FILTER (WHERE o.status IN ('offer', 'accepted'))
              FROM old_rows o WHERE o.status <> 'draft'
             GROUP BY o.user_id ORDER BY o.user_id
            ON CONFLICT (user_id) DO UPDATE
               SET apps_submitted = r.apps_submitted + EXCLUDED.apps_submitted,
                   apps_interviewing = r.apps_interviewing + EXCLUDED.apps_interviewing,
                   apps_offers = r.apps_offers + EXCLUDED.apps_offers;
            DELETE FROM public.readiness_career_rollups r
             WHERE r.user_id IN (SELECT o.user_id FROM old_rows o) AND r.skills = '{}' AND r.apps_submitted = 0
               AND r.apps_interviewing = 0 AND r.apps_offers = 0 AND r.mentors_active = 0 AND r.mock_at IS NULL;
        END IF;
    ELSIF TG_TABLE_NAME = 'mentorship_relationships' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.readiness_career_rollups AS r (user_id, mentors_active)
            SELECT n.mentee_id, count(*) FROM new_rows n WHERE n.status = 'active'
             GROUP BY n.mentee_id ORDER BY n.mentee_id
            ON CONFLICT (user_id) DO UPDATE SET mentors_active = r.mentors_active + EXCLUDED.mentors_active;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO public.readiness_career_rollups AS r (user_id, mentors_active)
            SELECT d.mentee_id, sum(d.s)
              FROM (SELECT 1 AS s, n.mentee_id FROM new_rows n WHERE n.status = 'active'
                    UNION ALL
                    SELECT -1, o.mentee_id FROM old_rows o WHERE o.status = 'active') d
             GROUP BY d.mentee_id HAVING sum(d.s) <> 0 ORDER BY d.mentee_id
            ON CONFLICT (user_id) DO UPDATE SET mentors_active = r.mentors_active + EXCLUDED.mentors_active;
        ELSE
            INSERT INTO public.readiness_career_rollups AS r (user_id, mentors_active)
            SELECT o.mentee_id, -count(*) FROM old_rows o WHERE o.status = 'active'
             GROUP BY o.mentee_id ORDER BY o.mentee_id
            ON CONFLICT (user_id) DO UPDATE SET mentors_active = r.mentors_active + EXCLUDED.mentors_active;
            DELETE FROM public.readiness_career_rollups r
             WHERE r.user_id IN (SELECT o.mentee_id FROM old_rows o) AND r.skills = '{}' AND r.apps_submitted = 0
               AND r.apps_interviewing = 0 AND r.apps_offers = 0 AND r.mentors_active = 0 AND r.mock_at IS NULL;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_career_rollup_on_change() FROM PUBLIC;
