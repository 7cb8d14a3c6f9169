-- sql/migrations/0089_progress_touch_when.sql
--      career_transformation_progress: the updated_at trigger runs only when the statement did
--      not set updated_at itself.
--
-- 0020 gave every table with an updated_at column a BEFORE UPDATE row trigger calling
-- cs_touch_updated_at() (a PL/pgSQL call per updated row). cs-readiness's score upsert updates
-- ~68,000 rows of this table per 200,000-event drain of distinct learners; in psql on that
-- benchmark's database (67,823 score rows in batches of 2,500, the runtime's staged statements,
-- backend CPU from /proc, fresh copies, alternating) the upsert took 2.16-2.18 s with the trigger
-- skipped against 2.47 s with it (~4.5 us per row, 12% of the upsert).
-- The trigger now has a WHEN clause: it fires when updated_at is unchanged by the statement, so
-- every UPDATE that does not mention updated_at gets clock_timestamp() exactly as before, while a
-- statement that sets updated_at itself (cs-readiness's upsert sets it to clock_timestamp(), the
-- same value the trigger would give) skips the PL/pgSQL call. A statement that sets updated_at
-- to the value it already had still gets the trigger's clock_timestamp().
-- requires: cs_touch_updated_at

DROP TRIGGER trg_career_transformation_progress_updated_at ON career_transformation_progress;
CREATE TRIGGER trg_career_transformation_progress_updated_at BEFORE UPDATE ON career_transformation_progress
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION cs_touch_updated_at();
