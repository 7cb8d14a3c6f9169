-- sql/migrations/0012_system_logs.sql
--      The tamper-evident audit log, appended by cs-audit with COPY, partitioned weekly.
--
-- Each row is one event. cs-audit chains rows per chain_key: row_hash = SHA-256(prev_hash ||
-- canonical row), where the canonical row covers payload_sha256, never the payload itself, so a
-- payload can be redacted (audit_redact_user, sql/functions/) without breaking the chain. user_id is the
-- learner's pseudonymous id; the payload must carry no more personal data than the event did.
-- Append-only: the guard triggers (0020) refuse UPDATE, DELETE and TRUNCATE on the table and every
-- partition; the one exception is the documented redaction, which may only replace payload with
-- the redaction marker. Old partitions are retired with DROP TABLE after the chain head has been
-- anchored outside the database.
-- Three indexes at most, because cs-audit writes ~70,000 rows/s: the primary key, the chain head
-- lookup (chain_key, chain_seq) and the per-learner lookup used by redaction and subject access.
-- requires: cs_partition_ensure

CREATE TABLE system_logs (
    log_id           bigint      GENERATED ALWAYS AS IDENTITY,
    logged_at        timestamptz NOT NULL DEFAULT now(),
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    schema_version   integer     CHECK (schema_version > 0),
    user_id          uuid,
    occurred_at      timestamptz NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL CHECK (source_partition >= 0),
    source_offset    bigint      NOT NULL CHECK (source_offset >= 0),
    producer         text        NOT NULL,
    traceparent      text,
    severity         text        NOT NULL DEFAULT 'info' CHECK (severity IN ('debug', 'info', 'notice', 'warning', 'error')),
    payload          jsonb       NOT NULL,
    payload_sha256   bytea       NOT NULL CHECK (length(payload_sha256) = 32),
    chain_key        text        NOT NULL,
    chain_seq        bigint      NOT NULL CHECK (chain_seq > 0),
    prev_hash        bytea       CHECK (prev_hash IS NULL OR length(prev_hash) = 32),
    row_hash         bytea       NOT NULL CHECK (length(row_hash) = 32),
    PRIMARY KEY (log_id, logged_at)
) PARTITION BY RANGE (logged_at);
CREATE INDEX idx_system_logs_chain_head ON system_logs (chain_key, chain_seq);
CREATE INDEX idx_system_logs_user ON system_logs (user_id) WHERE user_id IS NOT NULL;
SELECT cs_partition_ensure('system_logs', 'week', 2, 3);
