-- sql/migrations/0076_matcher_read.sql
--      cs-matcher's statements, profiled on bench/pipeline.sh's stream (bench/matcher.sh --pipeline,
--      docs/matcher.md "Throughput"):
--
-- 1. Its read, mentor_rematch_inputs(), takes the batch's requesting and rated learners (six
--    arguments): it reads only the learners who can be rematched and the recent ratings of those
--    with a rated session, set-based. A signature change is a new function, so the four-argument
--    version is dropped here; the function file creates the new one.
-- 2. Every proposal it writes (a mentorship_relationships row with status 'proposed') fired
--    trg_mentorship_mentee_count, which recounts the mentor's active relationships and updates
--    the mentor_profiles row: about 0.5 ms a row, and the same mentor row updated again and again
--    in one transaction (1,000 proposals: 550 ms with the trigger, 47 ms without). Neither the
--    count of active relationships nor the status derived from it can change unless the old or
--    the new row is active, so the trigger now fires only then (split in three: a WHEN clause
--    cannot name NEW for DELETE nor OLD for INSERT). The function is unchanged.
-- requires: mentorship_update_mentee_count

DROP FUNCTION IF EXISTS mentor_rematch_inputs(uuid[], uuid[], uuid[], integer);

DROP TRIGGER trg_mentorship_mentee_count ON mentorship_relationships;
CREATE TRIGGER trg_mentorship_mentee_count AFTER INSERT ON mentorship_relationships
    FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION mentorship_update_mentee_count();
CREATE TRIGGER trg_mentorship_mentee_count_update AFTER UPDATE OF status, mentor_id ON mentorship_relationships
    FOR EACH ROW WHEN (OLD.status = 'active' OR NEW.status = 'active')
    EXECUTE FUNCTION mentorship_update_mentee_count();
CREATE TRIGGER trg_mentorship_mentee_count_delete AFTER DELETE ON mentorship_relationships
    FOR EACH ROW WHEN (OLD.status = 'active') EXECUTE FUNCTION mentorship_update_mentee_count();
