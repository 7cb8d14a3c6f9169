-- sql/migrations/0094_matcher_stage_probe.sql
--      cs-matcher's read, mentor_rematch_inputs(), takes the learner of each readiness_score_changed
--      event beside its trigger_event_id (seven arguments), so that whether an event moved the
--      readiness stage is one primary-key probe of career_readiness_history per event.
--
-- The six-argument version checked it per learner read with (user_id, source_event_id = ANY
-- (p_stage_events)) on the primary key: one index descent per element of the array for every
-- learner, i.e. learners x stage events. On bench/pipeline.sh's all+progressx2 drain (cs-readiness
-- publishing its changes while cs-matcher reads its backlog in batches of 10,000 events) one read
-- of 1,087 learners against ~1,300 stage events made 5.7 million buffer hits and took 12 s, and
-- the reads used 34.5 s of PostgreSQL CPU in all (bench/pg_profile.sh, application
-- cs-matcher-inputs). A signature change is a new function, so the six-argument version is
-- dropped here; the function file creates the new one.

DROP FUNCTION IF EXISTS mentor_rematch_inputs(uuid[], uuid[], uuid[], uuid[], uuid[], integer);
