-- sql/migrations/0072_dead_letter_redrive.sql
--      Dead-letter re-drive (issue 16): a dead letter's re-drive attempts, its outcome and the
--      history of its reasons.
--
-- `cs-<worker> redrive` (libcore/src/worker_redrive.c, docs/operations.md) runs a worker's dead
-- letters through its handlers again, in the batch transaction of live events but without
-- consumer offsets. In that transaction each row it took (FOR UPDATE SKIP LOCKED) is updated:
--   * applied, or a duplicate (its event id was already applied in the worker's effect scope),
--     or erased (its learner is erased: the payload, key and reason are dropped): resolved_at,
--     resolved_by = 'redrive' and resolution say so;
--   * failed again: error_class, reason, field and sqlstate are the new failure's; the reasons
--     before are kept: first_error_class / first_reason hold the original one (set by the first
--     re-drive), redrive_history one entry per attempt ({at, outcome, error_class, reason,
--     sqlstate}).
-- redrive_attempts counts the attempts: a row with redrive_attempts >= --max-attempts is never
-- re-driven again unless named (--id N --force), the loop guard.
--
-- The worker roles read dead letters through worker_dead_letters only (0064): the view is listed
-- again (it lists d.* as it was when created) and they may update, through it, the columns a
-- re-drive changes, on their own groups' rows only (the view's filter). consumer_group is not
-- among them.

ALTER TABLE dead_letters
    ADD COLUMN redrive_attempts  integer     NOT NULL DEFAULT 0 CHECK (redrive_attempts >= 0),
    ADD COLUMN last_redrive_at   timestamptz,
    ADD COLUMN resolved_at       timestamptz,
    ADD COLUMN resolved_by       text,
    ADD COLUMN resolution        text CHECK (resolution IN ('applied', 'duplicate', 'erased')),
    ADD COLUMN first_error_class text,
    ADD COLUMN first_reason      text,
    ADD COLUMN redrive_history   jsonb       NOT NULL DEFAULT '[]'::jsonb,
    ADD CONSTRAINT dead_letters_resolved CHECK ((resolved_at IS NULL) = (resolution IS NULL));

-- The re-drive's selection: a worker's unresolved rows, in id order.
CREATE INDEX dead_letters_unresolved ON dead_letters (worker, id) WHERE resolved_at IS NULL;

COMMENT ON COLUMN dead_letters.redrive_attempts IS
    'Re-drive attempts (cs-<worker> redrive); at --max-attempts the row is only re-driven by name.';
COMMENT ON COLUMN dead_letters.resolved_at IS
    'When a re-drive resolved the row (in the transaction of its effects); NULL: unresolved.';
COMMENT ON COLUMN dead_letters.resolution IS
    'applied, duplicate (already applied in the effect scope) or erased (learner erased: not applied).';
COMMENT ON COLUMN dead_letters.first_reason IS
    'The original reason, kept by the first re-drive (reason then holds the latest failure''s).';
COMMENT ON COLUMN dead_letters.redrive_history IS
    'One entry per re-drive attempt: {at, outcome, error_class, reason, sqlstate}.';

CREATE OR REPLACE VIEW worker_dead_letters WITH (security_barrier) AS
    SELECT d.* FROM dead_letters d
     WHERE d.consumer_group LIKE ANY ((SELECT cs_worker_group_patterns())::text[]);

DO $grants$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['cs_worker_progress', 'cs_worker_audit', 'cs_worker_readiness',
                             'cs_worker_matching'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT UPDATE (redrive_attempts, last_redrive_at, resolved_at, resolved_by, '
                           'resolution, first_error_class, first_reason, redrive_history, error_class, '
                           'reason, field, sqlstate, payload, msg_key, erased) '
                           'ON worker_dead_letters TO %I', r);
        END IF;
    END LOOP;
END
$grants$;
