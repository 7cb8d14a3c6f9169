-- sql/functions/readiness_progress_rollup_on_content.sql
--      Trigger: content made career-critical or not recounts the learners with progress on it.
--
-- readiness_progress_rollups.critical counts a learner's completed items that are career-critical
-- (content_chunks.is_career_critical), so a change of that flag changes it for every learner with
-- progress on the item. Attached by 0079_readiness_progress_rollups.sql to INSERT, UPDATE and
-- DELETE of content_chunks, once per statement: the items whose flag differs between the old and
-- the new rows (an inserted critical item, a deleted one, a flag flipped, an id changed) name the
-- learners to recount; TRUNCATE recounts every learner. Content is reference data no worker
-- writes; finding the learners scans user_progress (it has no index by content), which is
-- skipped when no flag changed (an edit of a body, a version bump).
-- depends: readiness_progress_rollup_recount

CREATE OR REPLACE FUNCTION readiness_progress_rollup_on_content() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed uuid[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM public.readiness_progress_rollup_recount(NULL);
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        changed := ARRAY(SELECT n.content_id FROM new_chunks n WHERE n.is_career_critical);
    ELSIF TG_OP = 'DELETE' THEN
        changed := ARRAY(SELECT o.content_id FROM old_chunks o WHERE o.is_career_critical);
    ELSE
        changed := ARRAY((SELECT n.content_id FROM new_chunks n WHERE n.is_career_critical
                          EXCEPT SELECT o.content_id FROM old_chunks o WHERE o.is_career_critical)
                         UNION
                         (SELECT o.content_id FROM old_chunks o WHERE o.is_career_critical
                          EXCEPT SELECT n.content_id FROM new_chunks n WHERE n.is_career_critical));
    END IF;
    IF cardinality(changed) > 0 THEN
        PERFORM public.readiness_progress_rollup_recount(ARRAY(
            SELECT DISTINCT up.user_id FROM public.user_progress up WHERE up.content_id = ANY (changed)));
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION readiness_progress_rollup_on_content() FROM PUBLIC;
