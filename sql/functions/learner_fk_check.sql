-- sql/functions/learner_fk_check.sql
--      Trigger: the insert check of a learner foreign key (user_id -> user_career_profiles), once
--      per statement instead of once per row.
--
-- Attached by learner_fk_per_statement() (0098, 0106; AFTER INSERT, statement level, transition
-- table new_rows; the argument is the constraint's name) to the tables cs-progress inserts most
-- rows into and their partitions, and to career_readiness_scores (cs-readiness's upsert: its
-- transition table holds only the rows the statement inserted, not those ON CONFLICT updated), whose row-level insert check of the constraint (RI_FKey_check_ins)
-- it disables; on a partitioned table also AFTER UPDATE (a row an UPDATE moves to another
-- partition is inserted there without the constraint's update check).
-- The constraint itself stays: its delete cascade (erasure), its refusal of a changed or deleted
-- key that rows still reference, TRUNCATE's refusal and the check of an UPDATE that changes
-- user_id (RI_FKey_check_upd) are PostgreSQL's as before. This function does what the disabled
-- check did for each new row, for the statement's distinct learners at once: it locks each
-- learner's profile FOR KEY SHARE (so a concurrent erasure waits for this transaction, then
-- cascades to the new rows; a profile deleted and committed before the lock is not found, and in
-- REPEATABLE READ a concurrent delete is a serialization failure, as for the constraint's own
-- check), in key order, and refuses the statement (23503, naming the constraint) when a learner
-- has no profile. Rows with a NULL user_id are not checked (MATCH SIMPLE).
-- SECURITY DEFINER: like PostgreSQL's own check, it sees every profile whatever the row-level
-- security of the role inserting.

CREATE OR REPLACE FUNCTION learner_fk_check() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid[];
    locked bigint;
    missing uuid;
BEGIN
    SELECT array_agg(DISTINCT n.user_id) INTO ids FROM new_rows n WHERE n.user_id IS NOT NULL;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM public.user_career_profiles p WHERE p.user_id = ANY (ids)
        ORDER BY p.user_id FOR KEY SHARE OF p;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked < cardinality(ids) THEN
        SELECT i.id INTO missing FROM unnest(ids) AS i(id)
         WHERE NOT EXISTS (SELECT 1 FROM public.user_career_profiles p WHERE p.user_id = i.id)
         ORDER BY i.id LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"',
                        TG_TABLE_NAME, TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = CASE WHEN missing IS NULL
                                THEN 'A learner''s row in "user_career_profiles" was deleted concurrently.'
                                ELSE format('Key (user_id)=(%s) is not present in table "user_career_profiles".', missing)
                           END,
                  CONSTRAINT = TG_ARGV[0], TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;
    RETURN NULL;
END
$$;
