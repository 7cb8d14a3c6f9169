-- sql/migrations/0073_matcher.sql
--      cs-matcher (workers/matcher.c, docs/matcher.md) runs as cs_worker_matching under its own
--      consumer group, cs-matcher.
--
-- 0064 gave cs_worker_matching the group prefix 'cs-matching' (the name the design used); the
-- worker shipped as cs-matcher, so the role also owns 'cs-matcher' and its replay groups
-- ('cs-matcher-replay-<job>'). Its effect scope stays 'matching' (0066's worker_scopes row; the
-- worker sets it), shared by every group of the worker. Everything else the role needs it has:
-- SELECT, INSERT, UPDATE on mentorship_relationships and SELECT on mentor_profiles (0024), the
-- runtime's tables (0040, 0064, 0065 outbox, 0066), and mentor_rematch_inputs() (its function
-- file) reads the rest as SECURITY DEFINER.

INSERT INTO worker_roles (role, group_prefix) VALUES ('cs_worker_matching', 'cs-matcher');
