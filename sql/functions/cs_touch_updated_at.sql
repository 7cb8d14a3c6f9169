-- sql/functions/cs_touch_updated_at.sql
--      Trigger: updated_at upkeep.
--
-- Attached by 0020_triggers.sql to every table that has an updated_at column.

-- updated_at upkeep, attached to every table with an updated_at column (0020_triggers.sql).
CREATE OR REPLACE FUNCTION cs_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := pg_catalog.clock_timestamp();
    RETURN NEW;
END
$$;
