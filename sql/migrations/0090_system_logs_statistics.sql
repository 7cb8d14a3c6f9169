-- sql/migrations/0090_system_logs_statistics.sql
--      system_logs keeps column statistics only on the columns its queries filter, join or sort on.
--
-- Autovacuum's ANALYZE of the week's partition samples 30,000 rows and, by default, computes
-- statistics for every column: the jsonb payload (sorted with jsonb's comparison), three bytea
-- hashes and the event and trace ids that are all distinct. No query of the log filters on them:
-- redaction and subject access go by user_id, chain heads and verify by (chain_key, chain_seq),
-- verify's range and retention by logged_at, and log_id is the primary key. Measured on a
-- 900,000-row partition of cs-audit's rows (docs/audit.md, "Statistics"): ANALYZE 1.30-1.32 s of
-- CPU with every column, 0.45 s with the columns below at 0 (the payload alone was 0.35 s);
-- VACUUM of the same fresh partition 0.61-0.67 s. A target of 0 leaves the column out of ANALYZE
-- (no pg_statistic row; the planner uses its defaults for it).
--
-- ALTER TABLE recurses to the partitions that exist; partitions created later get the parent's
-- targets from cs_partition_create / cs_partition_ensure (cs_partition_copy_stattargets), because
-- CREATE TABLE ... PARTITION OF does not copy them.

ALTER TABLE system_logs
    ALTER COLUMN event_id SET STATISTICS 0,
    ALTER COLUMN event_type SET STATISTICS 0,
    ALTER COLUMN schema_version SET STATISTICS 0,
    ALTER COLUMN occurred_at SET STATISTICS 0,
    ALTER COLUMN source_topic SET STATISTICS 0,
    ALTER COLUMN source_partition SET STATISTICS 0,
    ALTER COLUMN source_offset SET STATISTICS 0,
    ALTER COLUMN producer SET STATISTICS 0,
    ALTER COLUMN traceparent SET STATISTICS 0,
    ALTER COLUMN severity SET STATISTICS 0,
    ALTER COLUMN payload SET STATISTICS 0,
    ALTER COLUMN payload_sha256 SET STATISTICS 0,
    ALTER COLUMN prev_hash SET STATISTICS 0,
    ALTER COLUMN row_hash SET STATISTICS 0,
    ALTER COLUMN hash_version SET STATISTICS 0;
