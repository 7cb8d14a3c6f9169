-- sql/migrations/0041_audit_chain.sql
--      The head of each audit hash chain, kept next to the log so a new owner of a partition
--      finds where the chain stands with one index lookup.
--
-- cs-audit chains system_logs rows per source partition (chain_key 'topic/partition'). In the
-- transaction of every batch it appends the rows and moves the chain's head here, so the head and
-- the rows can never disagree. Export this table periodically (outside the database) to anchor the
-- chains: a superuser who rewrote the log consistently would still not match an anchored head.

CREATE TABLE audit_chain_heads (
    chain_key  text        PRIMARY KEY,
    chain_seq  bigint      NOT NULL CHECK (chain_seq > 0),
    row_hash   bytea       NOT NULL CHECK (length(row_hash) = 32),
    -- The source offset of the chain's last row: a replay of the partition from an earlier
    -- offset (offsets reset, cs-replay) appends nothing for offsets already logged.
    last_offset bigint     NOT NULL CHECK (last_offset >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit_chain_heads IS
    'Last chain_seq, row_hash and source offset of each system_logs hash chain; written by '
    'cs-audit in the same transaction as the rows.';

GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO cs_worker_audit;
GRANT SELECT ON audit_chain_heads TO cs_analytics, cs_app_admin;
