-- sql/functions/erased_users_permanent.sql
--      Trigger: the erasure ledger is permanent (SQLSTATE CS002).
--
-- Attached by 0020_triggers.sql.

-- The erasure ledger is permanent, and an erased learner cannot be recreated.
CREATE OR REPLACE FUNCTION erased_users_permanent() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'erased_users is permanent: % refused', TG_OP USING ERRCODE = 'CS002';
END
$$;
