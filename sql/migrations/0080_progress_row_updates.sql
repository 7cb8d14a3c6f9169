-- sql/migrations/0080_progress_row_updates.sql
--      career_transformation_progress: cheaper updates of a row that carries a readiness
--      explanation.
--
-- cs-progress updates a learner's row (its counters, activity, phase) once per batch that
-- touches the learner, and cs-readiness writes the score and its explanation (~1.3 KB of jsonb,
-- inline: the row is ~1.5 KB, under the 2 KB at which PostgreSQL moves values out of line). Two
-- costs of every such update had nothing to do with what changed:
--  * the CHECK (jsonb_typeof(...) = 'object') constraints of readiness_explanation and
--    readiness_components are evaluated on every update of the row, which decompresses the
--    explanation each time; a domain's check runs only when a value of the column is written;
--  * fillfactor 80 (0025) left room on a page of four 1.5 KB rows for one new version, so most
--    updates were not HOT and touched all three indexes.
-- Measured on the 1,000,000-event stream's database (10,000 rows with explanations, each row
-- updated three times): 0.8-1.6 s per pass before, 0.5-1.1 s with the domain, 0.12-0.24 s with
-- the domain and fillfactor 60 (the existing pages keep their fill until rewritten).

CREATE DOMAIN cs_jsonb_object AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');
COMMENT ON DOMAIN cs_jsonb_object IS
    'A JSON object (jsonb). A domain rather than a table CHECK: checked when a value is written, '
    'not on every update of the row.';

ALTER TABLE career_transformation_progress
    DROP CONSTRAINT IF EXISTS career_transformation_progress_readiness_explanation_check,
    DROP CONSTRAINT IF EXISTS career_transformation_progress_readiness_components_check,
    ALTER COLUMN readiness_explanation TYPE cs_jsonb_object,
    ALTER COLUMN readiness_components TYPE cs_jsonb_object,
    SET (fillfactor = 60);
