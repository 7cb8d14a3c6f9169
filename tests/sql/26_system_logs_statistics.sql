-- tests/sql/26_system_logs_statistics.sql
--      Migration 0090: system_logs keeps column statistics only on log_id, logged_at, user_id,
--      chain_key and chain_seq (the columns its queries filter, join or sort on); every other
--      column has statistics target 0, on the parent, on every partition that exists and on the
--      partitions cs_partition_create / cs_partition_ensure / cs_partition_maintain make later
--      (CREATE TABLE ... PARTITION OF alone would leave them at the default, -1).
BEGIN;
SELECT plan(11);

CREATE TEMP VIEW sl_targets AS
SELECT c.oid::regclass AS rel,
       array_agg(a.attname::text ORDER BY a.attname) FILTER (WHERE a.attstattarget = 0) AS zero,
       array_agg(a.attname::text ORDER BY a.attname) FILTER (WHERE a.attstattarget <> 0) AS kept
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.oid = 'system_logs'::regclass
    OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'system_logs'::regclass)
 GROUP BY c.oid;

SELECT is((SELECT zero FROM sl_targets WHERE rel = 'system_logs'::regclass),
          ARRAY['event_id', 'event_type', 'hash_version', 'occurred_at', 'payload', 'payload_sha256',
                'prev_hash', 'producer', 'row_hash', 'schema_version', 'severity', 'source_offset',
                'source_partition', 'source_topic', 'traceparent'],
          'the parent: statistics target 0 on the columns no query filters on');
SELECT is((SELECT kept FROM sl_targets WHERE rel = 'system_logs'::regclass),
          ARRAY['chain_key', 'chain_seq', 'log_id', 'logged_at', 'user_id'],
          'the parent keeps the default target on the five queried columns');
SELECT is((SELECT count(*) FROM sl_targets s, sl_targets p
            WHERE p.rel = 'system_logs'::regclass AND s.rel <> p.rel
              AND (s.zero, s.kept) IS NOT DISTINCT FROM (p.zero, p.kept))::int,
          (SELECT count(*) FROM pg_inherits WHERE inhparent = 'system_logs'::regclass)::int,
          'every existing partition (the default too) has the parent''s targets');

-- Partitions made later: by cs_partition_create (no rows to move), by cs_partition_maintain
-- ahead of time, and by cs_partition_create moving rows out of the DEFAULT (which it re-creates).
SELECT ok(cs_partition_create('system_logs', 'week', '2400-03-01 00:00+00'), 'a new week partition in 2400');
SELECT is((SELECT (zero, kept) FROM sl_targets WHERE rel = 'system_logs_p2400w09'::regclass),
          (SELECT (zero, kept) FROM sl_targets WHERE rel = 'system_logs'::regclass),
          'cs_partition_create copies the parent''s targets onto the partition it creates');

SELECT cmp_ok(cs_partition_maintain(now() + interval '2 years'), '>', 0, 'cs_partition_maintain makes partitions ahead');
SELECT is((SELECT count(*) FROM sl_targets s, sl_targets p
            WHERE p.rel = 'system_logs'::regclass AND s.rel <> p.rel
              AND (s.zero, s.kept) IS DISTINCT FROM (p.zero, p.kept))::int, 0,
          'every partition cs_partition_maintain made has the parent''s targets');

SELECT tap.audit_row('bbbbbbbb-0000-0000-0000-00000000000b', '2500-01-05 00:00+00', 1);
SELECT ok(cs_partition_create('system_logs', 'week', '2500-01-05 00:00+00'),
          'a partition for a row kept in DEFAULT (the default is detached and re-created)');
SELECT is((SELECT count(*) FROM sl_targets s, sl_targets p
            WHERE p.rel = 'system_logs'::regclass AND s.rel <> p.rel
              AND s.rel::text IN ('system_logs_default', 'system_logs_p2500w01')
              AND (s.zero, s.kept) IS NOT DISTINCT FROM (p.zero, p.kept))::int, 2,
          'the re-created DEFAULT and the new partition have the parent''s targets');

-- What ANALYZE then does: statistics for the queried columns only.
SELECT tap.audit_row('bbbbbbbb-0000-0000-0000-00000000000b', '2400-03-01 00:00+00', n) FROM generate_series(1, 20) n;
ANALYZE system_logs_p2400w09;
SELECT is((SELECT array_agg(attname::text ORDER BY attname) FROM pg_stats
            WHERE schemaname = 'public' AND tablename = 'system_logs_p2400w09'),
          ARRAY['chain_key', 'chain_seq', 'log_id', 'logged_at', 'user_id'],
          'ANALYZE of a new partition computes statistics for the five queried columns only');

-- Any partitioned table: a target set on the parent reaches the partitions made later.
ALTER TABLE career_coaching_sessions ALTER COLUMN session_type SET STATISTICS 7;
SELECT cs_partition_create('career_coaching_sessions', 'month', '2399-06-15 10:00+00');
SELECT is((SELECT attstattarget::int FROM pg_attribute
            WHERE attrelid = 'career_coaching_sessions_p2399m06'::regclass AND attname = 'session_type'), 7,
          'cs_partition_copy_stattargets works for any parent');

SELECT * FROM finish();
ROLLBACK;
