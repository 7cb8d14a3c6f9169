-- sql/migrations/0052_progress_hot_journey.sql
--      HOT updates for career_transformation_progress, the row cs-progress updates for nearly
--      every learner of every batch.
--
-- Every handled event moves its learner's last_activity_at. idx_transformation_progress_at_risk
-- (0010) indexes last_activity_at (WHERE at_risk), and PostgreSQL cannot update a row in place
-- (HOT) when any indexed column changes, partial index or not: so every journey update wrote a
-- new row version elsewhere plus new entries in every index of the table. The at-risk list needs
-- the at-risk learners, which are few; it sorts them by last_activity_at itself. Indexing them
-- by user_id keeps that list an index scan while last_activity_at changes stay HOT (at_risk
-- itself changes rarely, with the readiness model). Same trade as 0025 made for user_progress.

DROP INDEX idx_transformation_progress_at_risk;
CREATE INDEX idx_transformation_progress_at_risk ON career_transformation_progress (user_id) WHERE at_risk;
