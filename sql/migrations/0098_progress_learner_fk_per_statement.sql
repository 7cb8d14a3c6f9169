-- sql/migrations/0098_progress_learner_fk_per_statement.sql
--      The learner foreign key of the tables cs-progress inserts most rows into is checked once
--      per statement and learner instead of once per row.
--
-- Each inserted row ran the constraint's row trigger RI_FKey_check_ins: one SPI query that
-- locks the learner's profile FOR KEY SHARE, ~590,000 a 1,000,000-event drain for ~10,000
-- learners (perf: SPI_execute_snapshot 11% of cs-progress's backend; a drain without these
-- checks used 26.4 s of backend CPU against 32.5 s, docs/progress.md). For eight tables
-- (learner_fk_per_statement names them) that row trigger is disabled and learner_fk_check
-- (AFTER INSERT, statement level) does the same check and lock for the statement's distinct
-- learners; on the partitioned ones also AFTER UPDATE (a row moved to another partition is
-- inserted there). Nothing else of the constraint changes: it is still declared, and its delete
-- cascade, its refusal of a changed key still referenced, TRUNCATE's refusal, and the check of
-- an UPDATE that changes user_id (RI_FKey_check_upd) are PostgreSQL's.
-- learner_fk_per_statement() does it, for every partition too (see there: a partition created
-- later, and a database restored by pg_dump, check per row again until it runs again).
-- requires: learner_fk_per_statement

SELECT learner_fk_per_statement();
