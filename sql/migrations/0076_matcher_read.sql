-- sql/migrations/0076_matcher_read.sql
--      cs-matcher's read, mentor_rematch_inputs(), takes the batch's requesting and rated learners
--      (six arguments): it reads only the learners who can be rematched and the recent ratings
--      of those with a rated session (docs/matcher.md, "The read and the assignment"). A
--      signature change is a new function, so the four-argument version is dropped here; the
--      function file creates the new one.

DROP FUNCTION IF EXISTS mentor_rematch_inputs(uuid[], uuid[], uuid[], integer);
