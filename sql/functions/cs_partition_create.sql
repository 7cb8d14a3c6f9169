-- sql/functions/cs_partition_create.sql
--      Creates one range partition, moving rows out of the DEFAULT partition.
--
-- depends: cs_partition_bounds, cs_partition_copy_truncate_triggers, cs_partition_copy_stattargets, learner_fk_per_statement

-- Creates the partition of parent covering ts unless it exists. Rows that already landed in the
-- DEFAULT partition for that range are moved into the new partition: the default is detached,
-- replaced by an empty one, and its rows are re-inserted through the parent before the old
-- default is dropped (no UPDATE or DELETE, so append-only guards are never bypassed). Every
-- partition it creates gets the parent's BEFORE TRUNCATE triggers and per-column statistics
-- targets, which PARTITION OF does not copy. When the parent checks its learner foreign key per
-- statement (it carries trg_0_learner_fk: learner_fk_per_statement, 0098), so do the partitions it
-- creates: PARTITION OF clones the constraint's row check enabled, so learner_fk_per_statement()
-- runs again (before the moved rows are re-inserted, which are then checked per statement too).
-- That needs a superuser, as cs-migrate (--maintain-partitions) is.
-- Returns true when a partition was created.
CREATE OR REPLACE FUNCTION cs_partition_create(parent regclass, granularity text, ts timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql
AS $$
DECLARE
    b record;
    nsp text;
    base text;
    def_name text;
    key_col text;
    moved bigint := 0;
    has_identity boolean;
    fk_per_statement boolean;
BEGIN
    SELECT * INTO b FROM cs_partition_bounds(parent, granularity, ts);
    SELECT n.nspname, c.relname INTO nsp, base
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    IF to_regclass(format('%I.%I', nsp, b.part_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    def_name := base || '_default';
    fk_per_statement := EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg
                                 WHERE tg.tgrelid = parent AND tg.tgname = 'trg_0_learner_fk');
    SELECT a.attname INTO key_col
      FROM pg_catalog.pg_partitioned_table p
      JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent;

    IF to_regclass(format('%I.%I', nsp, def_name)) IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM %I.%I WHERE %I >= $1 AND %I < $2',
                       nsp, def_name, key_col, key_col) INTO moved USING b.lo, b.hi;
    END IF;

    IF moved = 0 THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       nsp, b.part_name, parent, b.lo, b.hi);
        PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, b.part_name)::regclass);
        PERFORM cs_partition_copy_stattargets(parent, format('%I.%I', nsp, b.part_name)::regclass);
        IF fk_per_statement THEN
            PERFORM learner_fk_per_statement();
        END IF;
        RETURN true;
    END IF;

    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = parent AND a.attidentity = 'a' AND NOT a.attisdropped)
      INTO has_identity;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %I.%I', parent, nsp, def_name);
    EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', nsp, def_name, def_name || '_moving');
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, def_name, parent);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   nsp, b.part_name, parent, b.lo, b.hi);
    PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, def_name)::regclass);
    PERFORM cs_partition_copy_truncate_triggers(parent, format('%I.%I', nsp, b.part_name)::regclass);
    PERFORM cs_partition_copy_stattargets(parent, format('%I.%I', nsp, def_name)::regclass);
    PERFORM cs_partition_copy_stattargets(parent, format('%I.%I', nsp, b.part_name)::regclass);
    IF fk_per_statement THEN
        PERFORM learner_fk_per_statement();
    END IF;
    EXECUTE format('INSERT INTO %s %s SELECT * FROM %I.%I', parent,
                   CASE WHEN has_identity THEN 'OVERRIDING SYSTEM VALUE' ELSE '' END,
                   nsp, def_name || '_moving');
    EXECUTE format('DROP TABLE %I.%I', nsp, def_name || '_moving');
    RAISE NOTICE 'created partition % and moved % rows into it from %', b.part_name, moved, def_name;
    RETURN true;
END
$$;

REVOKE EXECUTE ON FUNCTION cs_partition_create(regclass,text,timestamp with time zone) FROM PUBLIC;
