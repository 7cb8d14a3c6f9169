-- sql/migrations/0068_erasures_applied.sql
--      Erasure requests as the workers apply them: user_erasure_requested events, once per
--      worker, each one erasing the learner in the worker's batch transaction.
--
-- The contract's user_erasure_requested (cs.profile) asks every consumer to remove the learner's
-- data and ignore their later and replayed events. The workers that hold learner data apply it:
-- cs-progress (learner state) and cs-audit (the audit log: redaction keeps the hash chain
-- verifiable, the chain covers payload_sha256 and not the payload). Each appends one row here
-- from its handler; the row's trigger runs gdpr_erase_user (erasure ledger, profile cascade,
-- employer feedback anonymised, audit payloads redacted, dead letters deleted) in the same
-- transaction as the worker's other effects and its offsets. From the next statement on, the
-- runtime's erased-learner check (erased_users) skips the learner's events in every group of
-- every worker, live or replay.
--
-- The primary key makes a second delivery of a request to the same worker a no-op (ON CONFLICT
-- DO NOTHING: no row, no trigger); cs-progress also has the event in its effect ledger.
-- requires: erasures_applied_apply

CREATE TABLE erasures_applied (
    worker           text        NOT NULL,
    request_event_id uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    request_id       uuid,
    reason           text,
    applied_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker, request_event_id)
);
COMMENT ON TABLE erasures_applied IS
    'user_erasure_requested events applied by each worker (gdpr_erase_user ran in the same '
    'transaction, trigger erasures_applied_apply).';

CREATE TRIGGER trg_erasures_applied_apply AFTER INSERT ON erasures_applied
    FOR EACH ROW EXECUTE FUNCTION erasures_applied_apply();

GRANT SELECT, INSERT ON erasures_applied TO cs_worker_progress, cs_worker_audit;
GRANT SELECT ON erasures_applied TO cs_app_admin;
