-- sql/functions/user_career_profiles_refuse_erased.sql
--      Trigger: an erased learner cannot be recreated (SQLSTATE CS001).
--
-- Attached by 0020_triggers.sql, made AFTER INSERT by 0025_hot_path.sql.

-- Runs with the inserter's rights (every role that may insert a profile may read the ledger) and
-- without a SET clause, because workers fire it once per event (ON CONFLICT DO NOTHING still
-- fires BEFORE INSERT triggers): one primary-key probe, nothing else.
CREATE OR REPLACE FUNCTION user_career_profiles_refuse_erased() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.erased_users e WHERE e.user_id = NEW.user_id) THEN
        RAISE EXCEPTION 'learner % was erased and cannot be recreated', NEW.user_id
            USING ERRCODE = 'CS001', HINT = 'Skip events of learners listed in erased_users.';
    END IF;
    RETURN NEW;
END
$$;
