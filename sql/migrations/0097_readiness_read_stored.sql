-- sql/migrations/0097_readiness_read_stored.sql
--      career_readiness_inputs_fp returns each learner's stored score columns too, so that
--      cs-readiness probes career_transformation_progress once per learner, not twice (docs/
--      readiness.md, Performance, ninth round).
--
-- The function's skip (0093) already probed the learner's row; the worker's statement probed it
-- again (a lateral subquery) for the stored score, dimensions, stage and last emitted score and
-- stage. Its result type changes (ten columns added at the end), which CREATE OR REPLACE cannot
-- do: it is dropped here, and cs-migrate creates it again from its changed file after the
-- migrations (career_readiness_inputs_batch calls it by name from a string body, which records no
-- dependency, and keeps its columns).

DROP FUNCTION IF EXISTS career_readiness_inputs_fp(uuid[], timestamptz, text);
