-- sql/migrations/0055_progress_review_fk_plan.sql
--      The foreign key of project_reviews into the hash-partitioned user_portfolio_projects
--      checks each row with a generic plan instead of planning the check again for every row.
--
-- Why a review cost ~130 us a row (more than its insert, its four indexes and the roll-up
-- together): PostgreSQL checks a foreign key per inserted row by running a prepared query,
-- SELECT 1 FROM ONLY-or-not pk x WHERE key = $1 ... FOR KEY SHARE OF x. Against a partitioned
-- table that query's generic plan is an Append over all 8 partitions (pruned to one at run
-- time, but costed as 8 index scans), so the plan cache finds every custom plan (one partition,
-- pruned while planning) cheaper and plans the query again for every row: planning a query over
-- a partitioned table is most of the check's cost. Measured on the drained 300,000-event
-- database, 2,000 reviews of existing projects in one INSERT, roll-up trigger disabled (load
-- average 4): 234 ms with the default plan_cache_mode, 71 ms with force_generic_plan; without
-- the foreign key at all, 96 ms in the same session earlier.
--
-- The constraint stays as it is (same check, same locks, same cascade). A statement trigger
-- before each INSERT or UPDATE of project_reviews sets plan_cache_mode = force_generic_plan
-- for the rest of the statement, whose AFTER row triggers are the foreign-key checks, and an
-- AFTER statement trigger (queued after them, so fired after them) puts the previous value
-- back. Both are transaction-local (set_config(..., true)), so an error anywhere in between
-- ends with the transaction or subtransaction that set it.
-- The function is project_reviews_generic_plans (sql/functions/).
-- requires: project_reviews_generic_plans

CREATE TRIGGER trg_project_reviews_generic_plans BEFORE INSERT OR UPDATE ON project_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_generic_plans();
CREATE TRIGGER trg_project_reviews_generic_plans_end AFTER INSERT OR UPDATE ON project_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION project_reviews_generic_plans();
