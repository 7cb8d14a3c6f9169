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
--
-- New: mentor_rematch_responses, the answers to proposals (below).
-- requires: mentor_rematch_response_apply

INSERT INTO worker_roles (role, group_prefix) VALUES ('cs_worker_matching', 'cs-matcher');

-- The outbox relay (libcore/src/worker_outbox.c) takes its group's rows with SELECT ... FOR UPDATE
-- SKIP LOCKED, which PostgreSQL allows only with UPDATE privilege on some column; 0065 granted
-- SELECT, INSERT, DELETE, so under a worker role every relay round failed (42501) and derived
-- events stayed in the outbox (found running cs-matcher as its role, test 0097). UPDATE of
-- created_at alone: the relay never updates a row, and consumer_group (which the own-group
-- trigger guards) stays out of reach. The two workers that emit derived events.
GRANT UPDATE (created_at) ON outbox_events TO cs_worker_matching, cs_worker_readiness;

-- Answers to proposals (mentor_rematch_responded, schemas/README.md): one row per event, kept as
-- the record; the BEFORE INSERT trigger applies each to mentorship_relationships and stores what
-- it did in outcome (mentor_rematch_response_apply.sql explains the rules).
CREATE TABLE mentor_rematch_responses (
    event_id     uuid        PRIMARY KEY,
    proposal_id  uuid        NOT NULL,
    user_id      uuid        NOT NULL,
    response     text        NOT NULL CHECK (response IN ('accepted', 'declined')),
    comment      text,
    responded_at timestamptz NOT NULL,
    outcome      text        CHECK (outcome IN ('activated', 'declined', 'mentor_full',
                                                'unknown_proposal', 'already_closed')),
    applied_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_mentor_rematch_responses_proposal ON mentor_rematch_responses (proposal_id);
COMMENT ON TABLE mentor_rematch_responses IS
    'Learners'' answers to rematch proposals (mentor_rematch_responded), written by cs-matcher; '
    'outcome is what applying the answer did.';

CREATE TRIGGER trg_mentor_rematch_response_apply BEFORE INSERT ON mentor_rematch_responses
    FOR EACH ROW EXECUTE FUNCTION mentor_rematch_response_apply();

GRANT SELECT, INSERT ON mentor_rematch_responses TO cs_worker_matching;
GRANT SELECT ON mentor_rematch_responses TO cs_app_admin;
