-- sql/migrations/0059_progress_coaching_session_writes.sql
--      Inserting a coaching session writes one index less and calls its mentorship trigger only
--      for a completed session of a mentorship.
--
-- Measured on a drained 1,000,000-event database (43,419 sessions in three monthly partitions),
-- 1,300 new sessions in one INSERT like cs-progress': 52 ms, of which 11 ms were the triggers
-- (40 ms with every trigger disabled, 41 ms without trg_coaching_sessions_completed alone).
--  * trg_coaching_sessions_completed (0020) ran its PL/pgSQL function for every inserted row,
--    which returns at once unless the session is completed and belongs to a mentorship (none of
--    cs-progress' sessions name a relationship). The same condition as a WHEN clause decides in
--    the executor, without calling the function; the function keeps its own check (the UPDATE
--    case still compares with OLD, which a WHEN clause shared with INSERT cannot name).
--  * idx_coaching_sessions_session (0007: "later events of a session find it by session_id
--    alone") repeats the primary key's leading column: (session_id, scheduled_at) answers the
--    same search on every partition.
-- requires: coaching_sessions_count_completed
DROP TRIGGER trg_coaching_sessions_completed ON career_coaching_sessions;
CREATE TRIGGER trg_coaching_sessions_completed AFTER INSERT OR UPDATE OF status ON career_coaching_sessions
    FOR EACH ROW
    WHEN (NEW.status = 'completed' AND NEW.relationship_id IS NOT NULL)
    EXECUTE FUNCTION coaching_sessions_count_completed();

DROP INDEX idx_coaching_sessions_session;
