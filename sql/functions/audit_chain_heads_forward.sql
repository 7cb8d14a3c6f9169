-- sql/functions/audit_chain_heads_forward.sql
--      Trigger: audit_chain_heads moves forward only, along rows of system_logs.
--
-- Attached by 0061_audit_heads_forward.sql (BEFORE INSERT OR UPDATE OR DELETE, ENABLE ALWAYS), which
-- explains the rule.

CREATE OR REPLACE FUNCTION audit_chain_heads_forward() RETURNS trigger
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
