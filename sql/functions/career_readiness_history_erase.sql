-- sql/functions/career_readiness_history_erase.sql
--      Trigger: the readiness history of the learners whose profile is deleted (erasure) or
--      truncated goes with it.
--
-- Attached by 0096_readiness_history_cascade.sql to user_career_profiles: AFTER DELETE (each
-- statement, the deleted rows as a transition table) and AFTER TRUNCATE. It stands in for the
-- foreign key career_readiness_history had to user_career_profiles (ON DELETE CASCADE), whose
-- check cost cs-readiness a query and a FOR KEY SHARE lock of the profile per history row.
-- Safe against a batch writing the learner's history at the same moment, because the batch
-- writes the learner's career_readiness_scores row in the same transaction (its
-- career_transformation_progress row until migration 0099), and that row references the profile
-- (ON DELETE CASCADE):
--  - the batch wrote it first: the erasure's cascade to it waits for the batch to end, and this
--    trigger runs after the cascade (a statement trigger fires after the row triggers of the
--    statement, the foreign keys' cascades among them); its DELETE takes a new snapshot (READ
--    COMMITTED, a VOLATILE function), so it sees the history the batch committed;
--  - the erasure deleted it first: the batch's upsert of that row waits for the erasure, then
--    inserts it again, whose foreign key check finds no profile: the batch fails, its history
--    row with it.

CREATE OR REPLACE FUNCTION career_readiness_history_erase() RETURNS trigger
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM public.career_readiness_history;
    ELSE
        DELETE FROM public.career_readiness_history h USING deleted_profiles d WHERE h.user_id = d.user_id;
    END IF;
    RETURN NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION career_readiness_history_erase() FROM PUBLIC;
