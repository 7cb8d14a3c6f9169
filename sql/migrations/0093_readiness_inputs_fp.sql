-- sql/migrations/0093_readiness_inputs_fp.sql
--      career_transformation_progress.readiness_inputs_fp: which versions of a learner's
--      readiness inputs the stored score was computed from, so that cs-readiness skips the
--      learners whose inputs have not changed since (docs/readiness.md, Performance, eighth round).
--
-- A learner is recomputed in every batch that holds one of its events (~1.5 times per learner
-- on the 200,000-distinct-learner benchmark: its events sit in several topics' partitions);
-- when cs-progress had already committed all of them, every recomputation but the first read
-- the same inputs and wrote nothing. The fingerprint (written by cs-readiness with each score,
-- computed by career_readiness_inputs_fp) names the row versions the inputs were read from: the
-- reference maps' hash and the xmin of the learner's profile and three roll-up rows. The same
-- fingerprint means the same inputs, so the stored score, stage and emit decision are what a
-- recomputation would give (with the same model version, stored beside it), and the read leaves
-- the learner out before computing its inputs. NULL (scores stored before this migration, or by
-- another writer): always recomputed.
-- No index: read by primary key only; not in idx_transformation_progress_phase_readiness.

ALTER TABLE career_transformation_progress ADD COLUMN readiness_inputs_fp text;
COMMENT ON COLUMN career_transformation_progress.readiness_inputs_fp IS
    'The versions of the readiness inputs the stored score was computed from (career_readiness_inputs_fp; 0093).';
