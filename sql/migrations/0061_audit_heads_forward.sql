-- sql/migrations/0061_audit_heads_forward.sql
--      The audit log keeps its promise: a hash version per row, and chain heads that only move
--      forward along the log.
--
-- 1. hash_version. Version 1 rows (written before this migration) leave logged_at, severity and
--    occurred_at below the millisecond outside row_hash; cs-audit now writes version 2, whose
--    hash covers every column but log_id (libcore/include/cs/audit.h). Existing rows keep 1 (the
--    default, also what an older cs-audit binary gets) and still verify; the verifier reports a
--    chain that goes back from 2 to 1. The column is inside the hash of a version 2 row (the
--    canonical row starts with "cs-audit-v2"), so lowering it breaks the row's hash.
-- 2. audit_chain_heads moves forward only, along rows of the log. A head row (insert or update)
--    must name a row of system_logs with that chain_seq, row_hash and source offset; an update
--    may not go back, rename the chain or skip: the rows between the old and the new head must
--    all exist, the first linking to the old head's hash. cs_worker_audit keeps INSERT and
--    UPDATE (its batch upserts the heads), never DELETE: it cannot set a head back to hide rows
--    it appended, nor point a head at a row that is not in the log. The trigger is ENABLE ALWAYS
--    (session_replication_role does not skip it); a superuser can still disable it, which is
--    why the heads are anchored on Kafka (README, "cs-audit").
-- requires: audit_chain_heads_forward

ALTER TABLE system_logs
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
COMMENT ON COLUMN system_logs.hash_version IS
    'Canonical row of row_hash: 1 (legacy: logged_at, severity outside) or 2 (every column but log_id).';

CREATE TRIGGER trg_audit_chain_heads_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_chain_heads
    FOR EACH ROW EXECUTE FUNCTION audit_chain_heads_forward();
ALTER TABLE audit_chain_heads ENABLE ALWAYS TRIGGER trg_audit_chain_heads_forward;

-- The audit worker appends heads and moves them (through the trigger above); nothing else.
REVOKE DELETE, TRUNCATE ON audit_chain_heads FROM cs_worker_audit;
