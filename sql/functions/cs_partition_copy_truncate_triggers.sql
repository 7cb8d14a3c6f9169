-- sql/functions/cs_partition_copy_truncate_triggers.sql
--      Copies a parent's BEFORE TRUNCATE triggers onto one of its partitions.

-- Statement-level TRUNCATE triggers are not inherited by partitions, yet a partition can be
-- truncated on its own: copy the parent's BEFORE TRUNCATE triggers (the audit log's append-only
-- guard) onto a new partition.
CREATE OR REPLACE FUNCTION cs_partition_copy_truncate_triggers(parent regclass, part regclass) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgname, tg.tgfoid::regproc AS fn
               FROM pg_catalog.pg_trigger tg
              WHERE tg.tgrelid = parent AND NOT tg.tgisinternal
                AND (tg.tgtype & 32) <> 0 AND (tg.tgtype & 2) <> 0
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = part AND tgname = t.tgname) THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                           t.tgname, part, t.fn);
        END IF;
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION cs_partition_copy_truncate_triggers(regclass,regclass) FROM PUBLIC;
