-- sql/functions/learner_fk_per_statement.sql
--      Puts the learner foreign key of cs-progress's busiest tables and of cs-readiness's scores
--      on the per-statement insert check (learner_fk_check); idempotent.
--
-- For each of the nine tables below and each of its partitions: the row-level insert check of
-- the constraint user_id -> user_career_profiles (the internal trigger running RI_FKey_check_ins)
-- is disabled, and the statement trigger trg_0_learner_fk (learner_fk_check, transition table
-- new_rows) attached where missing. The partitions get it too: a row inserted into a partition
-- directly fires that partition's statement triggers, not the parent's. A partitioned table also
-- checks its UPDATEs per statement (trg_0_learner_fk_upd): a row an UPDATE moves to another
-- partition is inserted there without the update row check, which covers every other UPDATE
-- that changes user_id. Returns how many triggers it disabled or created (0 when everything was
-- in place). Needs a superuser (internal triggers), as cs-migrate is.
-- Called by 0098 (cs-progress's eight tables; a table that does not exist yet is skipped:
-- career_readiness_scores comes with 0099), 0106 (career_readiness_scores), and by
-- cs_partition_create (partition maintenance: cs_partition_ensure, cs_partition_maintain,
-- cs-migrate --maintain-partitions) after it made a partition of a table that carries
-- trg_0_learner_fk. A partition created otherwise (CREATE TABLE ... PARTITION OF by
-- hand) gets the constraint's row check enabled, as every clone does, so its rows are checked per
-- row (correct, not cheaper) until this runs again; pg_dump does not keep an internal trigger's
-- disabled state either, so a restored database needs it run again too.
-- depends: learner_fk_check

CREATE OR REPLACE FUNCTION learner_fk_per_statement() RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    t text;
    con record;
    g record;
    part regclass;
    n integer := 0;
BEGIN
    FOREACH t IN ARRAY ARRAY['user_progress', 'job_application_status_history', 'job_applications',
                             'career_coaching_sessions', 'interview_preparation',
                             'user_skill_assessments', 'career_milestones',
                             'user_portfolio_projects', 'career_readiness_scores'] LOOP
        IF to_regclass(t) IS NULL THEN
            CONTINUE; -- not created yet (0098 runs before 0099 makes career_readiness_scores)
        END IF;
        SELECT c.oid, c.conname INTO STRICT con
          FROM pg_constraint c
         WHERE c.conrelid = t::regclass AND c.contype = 'f'
           AND c.confrelid = 'user_career_profiles'::regclass
           AND c.conkey = ARRAY[(SELECT a.attnum FROM pg_attribute a
                                  WHERE a.attrelid = t::regclass AND a.attname = 'user_id')];
        -- the table and its partitions (pg_partition_tree gives no row for a plain table)
        FOR part IN SELECT t::regclass
                    UNION SELECT p.relid FROM pg_partition_tree(t::regclass) p LOOP
            -- the constraint's row check on this relation (on a partition: the clone's)
            FOR g IN SELECT tg.tgname FROM pg_trigger tg JOIN pg_constraint pc ON pc.oid = tg.tgconstraint
                      WHERE tg.tgrelid = part AND tg.tgfoid = '"RI_FKey_check_ins"'::regproc
                        AND tg.tgenabled <> 'D'
                        AND (pc.oid = con.oid OR pc.conparentid = con.oid) LOOP
                EXECUTE format('ALTER TABLE ONLY %s DISABLE TRIGGER %I', part, g.tgname);
                n := n + 1;
            END LOOP;
            IF NOT EXISTS (SELECT 1 FROM pg_trigger tg
                            WHERE tg.tgrelid = part AND tg.tgname = 'trg_0_learner_fk') THEN
                -- "0": fires before the statement's other AFTER statement triggers (name order)
                EXECUTE format('CREATE TRIGGER trg_0_learner_fk AFTER INSERT ON %s '
                               'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                               'EXECUTE FUNCTION learner_fk_check(%L)', part, con.conname);
                n := n + 1;
            END IF;
        END LOOP;
        -- An UPDATE that moves a row to another partition deletes it and inserts it there: no
        -- update row check runs, only the (disabled) insert one, so the root checks its UPDATEs.
        IF (SELECT c.relkind FROM pg_class c WHERE c.oid = t::regclass) = 'p'
           AND NOT EXISTS (SELECT 1 FROM pg_trigger tg
                            WHERE tg.tgrelid = t::regclass AND tg.tgname = 'trg_0_learner_fk_upd') THEN
            EXECUTE format('CREATE TRIGGER trg_0_learner_fk_upd AFTER UPDATE ON %I '
                           'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                           'EXECUTE FUNCTION learner_fk_check(%L)', t, con.conname);
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

REVOKE EXECUTE ON FUNCTION learner_fk_per_statement() FROM PUBLIC;
