-- sql/migrations/0065_outbox.sql
--      The transactional outbox: derived events a worker emitted, waiting for its relay.
--
-- A handler that derives an event (cs_batch_emit, cs/batch.h) appends a row here in the same
-- transaction as the batch's effects, processed ids and offsets, so the event exists if and only
-- if the batch committed. The worker's relay (libcore/src/worker_outbox.c) reads its group's rows
-- in id order (FOR UPDATE SKIP LOCKED, so two instances of a group never publish one row at the
-- same time), publishes them with the idempotent producer and deletes each row in the same
-- transaction once Kafka acknowledged it. A crash between the acknowledgement and that commit
-- leaves the row; it is published again after the restart, with the same event_id (derived
-- deterministically from what the event states), and every consumer skips it as a duplicate
-- (processed_events). payload is the event's Avro single-object encoding, ready to send;
-- fingerprint is its cs.schema_fingerprint header.
-- requires: worker_own_group_only

CREATE TABLE outbox_events (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer_group text        NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    topic          text        NOT NULL,
    msg_key        text        NOT NULL,
    payload        bytea       NOT NULL,
    fingerprint    text        NOT NULL,
    traceparent    text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_events_group ON outbox_events (consumer_group, id);
COMMENT ON TABLE outbox_events IS
    'Derived events committed with the batch that emitted them, until the worker''s relay has '
    'published them (deleted after the broker''s acknowledgement).';

CREATE TRIGGER trg_outbox_events_own_group BEFORE INSERT OR UPDATE OF consumer_group ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION worker_own_group_only('write outbox rows');

DO $grants$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['cs_worker_progress', 'cs_worker_audit', 'cs_worker_readiness',
                             'cs_worker_matching'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT SELECT, INSERT, DELETE ON outbox_events TO %I', r);
        END IF;
    END LOOP;
END
$grants$;
