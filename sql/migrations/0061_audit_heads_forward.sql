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

ALTER TABLE system_logs
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
COMMENT ON COLUMN system_logs.hash_version IS
    'Canonical row of row_hash: 1 (legacy: logged_at, severity outside) or 2 (every column but log_id).';

CREATE FUNCTION audit_chain_heads_forward() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
    links boolean;
    lands boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit chain head %: DELETE refused', OLD.chain_key
            USING ERRCODE = 'CSA01', HINT = 'Chain heads only move forward, by cs-audit.';
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- cs-audit's upsert proposes a row for every chain of a batch; when the chain has a head
        -- the insert turns into the update checked below (a plain INSERT fails on the key).
        IF EXISTS (SELECT 1 FROM public.audit_chain_heads h WHERE h.chain_key = NEW.chain_key) THEN
            RETURN NEW;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM public.system_logs l
                        WHERE l.chain_key = NEW.chain_key AND l.chain_seq = NEW.chain_seq
                          AND l.row_hash = NEW.row_hash AND l.source_offset = NEW.last_offset) THEN
            RAISE EXCEPTION 'audit chain head % at seq % matches no row of the log', NEW.chain_key, NEW.chain_seq
                USING ERRCODE = 'CSA01', HINT = 'A head names the chain''s last row: seq, row_hash and source offset.';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.chain_key <> OLD.chain_key THEN
        RAISE EXCEPTION 'audit chain head %: renaming a chain is refused', OLD.chain_key
            USING ERRCODE = 'CSA01';
    END IF;
    IF NEW.chain_seq < OLD.chain_seq
       OR (NEW.chain_seq = OLD.chain_seq
           AND (NEW.row_hash, NEW.last_offset) IS DISTINCT FROM (OLD.row_hash, OLD.last_offset)) THEN
        RAISE EXCEPTION 'audit chain head %: going back from seq % to % is refused',
                        OLD.chain_key, OLD.chain_seq, NEW.chain_seq
            USING ERRCODE = 'CSA01', HINT = 'Chain heads only move forward.';
    END IF;
    IF NEW.chain_seq = OLD.chain_seq THEN
        RETURN NEW;
    END IF;
    -- One range scan: the rows after the old head up to the new one must all be there, the first
    -- linking to the old head, the last being the new head.
    SELECT count(*),
           coalesce(bool_or(l.chain_seq = OLD.chain_seq + 1 AND l.prev_hash = OLD.row_hash), false),
           coalesce(bool_or(l.chain_seq = NEW.chain_seq AND l.row_hash = NEW.row_hash
                            AND l.source_offset = NEW.last_offset), false)
      INTO n, links, lands
      FROM public.system_logs l
     WHERE l.chain_key = OLD.chain_key AND l.chain_seq > OLD.chain_seq AND l.chain_seq <= NEW.chain_seq;
    IF NOT lands THEN
        RAISE EXCEPTION 'audit chain head % at seq % matches no row of the log', NEW.chain_key, NEW.chain_seq
            USING ERRCODE = 'CSA01', HINT = 'A head names the chain''s last row: seq, row_hash and source offset.';
    END IF;
    IF NOT links THEN
        RAISE EXCEPTION 'audit chain head %: seq % does not continue the head at seq %',
                        OLD.chain_key, OLD.chain_seq + 1, OLD.chain_seq
            USING ERRCODE = 'CSA01';
    END IF;
    IF n <> NEW.chain_seq - OLD.chain_seq THEN
        RAISE EXCEPTION 'audit chain head %: moving from seq % to % skips rows', OLD.chain_key,
                        OLD.chain_seq, NEW.chain_seq
            USING ERRCODE = 'CSA01';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER trg_audit_chain_heads_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_chain_heads
    FOR EACH ROW EXECUTE FUNCTION audit_chain_heads_forward();
ALTER TABLE audit_chain_heads ENABLE ALWAYS TRIGGER trg_audit_chain_heads_forward;

-- The audit worker appends heads and moves them (through the trigger above); nothing else.
REVOKE DELETE, TRUNCATE ON audit_chain_heads FROM cs_worker_audit;
