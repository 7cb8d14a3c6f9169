-- sql/migrations/0089_readiness_writes.sql
--      Cheaper score writes into career_transformation_progress: the explanation stored as json
--      (validated, not parsed into jsonb), and the updated_at trigger only when the statement did
--      not set updated_at itself.
--
-- readiness_explanation (0070, a cs_jsonb_object since 0080) is written by cs-readiness for
-- every changed score and read whole (a reader shows it) or by a few keys in tests and ad-hoc
-- queries. As jsonb, the runtime's COPY of the score rows parsed each ~720-byte explanation into
-- jsonb's binary form; COPY of the 67,823 score rows of the 200,000-distinct-learner benchmark
-- into a table shaped like the staging table took 1.90-2.10 s of backend CPU with the column as
-- jsonb or cs_jsonb_object, 0.79 s as json and 0.51-0.54 s as text (psql, /proc, 2 rounds): the
-- jsonb parse was ~70% of the COPY, the largest single cost of a written score. json keeps the
-- text as the worker rendered it (format 2 is compact, keys in a fixed order, no duplicates:
-- docs/readiness.md), is still validated as JSON, and its object check (json_typeof) reads one
-- token. It is also smaller stored: the text (~720 bytes) instead of jsonb's ~1,210. The ->, ->>
-- and #>> operators work on json as on jsonb; jsonb-only functions need a cast
-- (readiness_explanation::jsonb). json has no equality operator: nothing compares explanations.
-- The column is rewritten once (ALTER TYPE), its values converted by their text.
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

CREATE DOMAIN cs_json_object AS json CHECK (json_typeof(VALUE) = 'object');
COMMENT ON DOMAIN cs_json_object IS
    'A JSON object kept as text (json): validated when written, not parsed into jsonb. Checked '
    'when a value is written, not on every update of the row (as cs_jsonb_object).';
ALTER TABLE career_transformation_progress
    ALTER COLUMN readiness_explanation TYPE cs_json_object USING readiness_explanation::json;

DROP TRIGGER trg_career_transformation_progress_updated_at ON career_transformation_progress;
CREATE TRIGGER trg_career_transformation_progress_updated_at BEFORE UPDATE ON career_transformation_progress
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION cs_touch_updated_at();
