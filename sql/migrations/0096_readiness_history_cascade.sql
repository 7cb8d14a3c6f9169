-- sql/migrations/0096_readiness_history_cascade.sql
--      career_readiness_history without its foreign key to user_career_profiles: a trigger on the
--      profiles deletes the history of an erased learner instead (docs/readiness.md, Performance,
--      ninth round).
--
-- The foreign key's check was half of the history insert, the largest part of a written score
-- after the score's upsert: per history row a query on user_career_profiles and a FOR KEY SHARE
-- lock of the profile row (~8 us of backend CPU per row; the seventh round). Its one job besides
-- (a history row for no profile) is done by career_transformation_progress's foreign key: the
-- history row is written in the transaction that upserts the learner's progress row, and why that
-- keeps an erasure and a batch ordered is in career_readiness_history_erase.
-- requires: career_readiness_history_erase

ALTER TABLE career_readiness_history DROP CONSTRAINT career_readiness_history_user_id_fkey;

CREATE TRIGGER trg_user_career_profiles_readiness_history AFTER DELETE ON user_career_profiles
    REFERENCING OLD TABLE AS deleted_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION career_readiness_history_erase();
CREATE TRIGGER trg_user_career_profiles_readiness_history_truncate AFTER TRUNCATE ON user_career_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION career_readiness_history_erase();
