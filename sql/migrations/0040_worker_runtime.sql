-- sql/migrations/0040_worker_runtime.sql
--      The worker runtime's bookkeeping: consumed offsets, processed event ids, dead letters.
--
-- Every worker batch commits its effects together with the next offsets of the partitions it
-- consumed (consumer_offsets is the source of truth; Kafka's committed offsets only follow it for
-- lag tools), the ids of the events it applied (processed_events, so a duplicate delivery of an
-- event never applies its effects twice) and the events it could not apply (dead_letters, the
-- same rows that went to the dead-letter topics). See README.md, "Worker runtime".

CREATE TABLE consumer_offsets (
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL CHECK (kafka_partition >= 0),
    next_offset     bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);
COMMENT ON TABLE consumer_offsets IS
    'Next offset to consume per consumer group and partition; updated by compare-and-set in the '
    'transaction of each batch (zero rows updated means another consumer owns the partition).';

-- One row per event id a consumer group has taken care of: applied ('a') or skipped because
-- its learner was erased ('s'). Dead-lettered events are not kept here, so that a fixed worker
-- can apply them when they are re-published. Rows older than the longest topic retention can be
-- pruned with cs_prune_processed_events().
CREATE TABLE processed_events (
    consumer_group  text        NOT NULL,
    event_id        uuid        NOT NULL,
    outcome         "char"      NOT NULL DEFAULT 'a' CHECK (outcome IN ('a', 's')),
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);
-- BRIN: rows arrive in processed_at order, and pruning is rare; a btree would cost every insert.
CREATE INDEX processed_events_processed_at ON processed_events USING brin (processed_at);

CREATE TABLE dead_letters (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer_group  text        NOT NULL,
    worker          text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    msg_timestamp   timestamptz,
    dlq_topic       text        NOT NULL,
    error_class     text        NOT NULL
                    CHECK (error_class IN ('decode', 'validation', 'handler', 'database')),
    reason          text        NOT NULL,
    field           text,
    sqlstate        text,
    event_id        uuid,
    event_type      text,
    traceparent     text,
    attempt         integer     NOT NULL CHECK (attempt >= 1),
    msg_key         bytea,
    payload         bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer_group, topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_created_at ON dead_letters (created_at);

-- The erasure ledger is the schema's (0001..0039); created here only if absent so that the
-- runtime's set-based erased-learner check always has a table to read.
CREATE TABLE IF NOT EXISTS erased_users (
    user_id          uuid PRIMARY KEY,
    erased_at        timestamptz NOT NULL DEFAULT now(),
    request_event_id uuid,
    reason           text
);

-- The worker roles (0024) keep their own bookkeeping: offsets, processed ids, dead letters.
-- Roles are created by 0024 when the cluster lacks them; skipped here when absent.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['cs_worker_progress', 'cs_worker_audit', 'cs_worker_readiness',
                             'cs_worker_matching'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO %I', r);
            EXECUTE format('GRANT SELECT, INSERT, DELETE ON processed_events TO %I', r);
            EXECUTE format('GRANT SELECT, INSERT ON dead_letters TO %I', r);
            EXECUTE format('GRANT SELECT ON erased_users TO %I', r);
        END IF;
    END LOOP;
END
$$;
