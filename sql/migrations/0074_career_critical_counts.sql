-- sql/migrations/0074_career_critical_counts.sql
--      The career-critical content items of each industry, kept by a trigger on content_chunks.
--
-- career_readiness_inputs_batch counted them on every call with a scan of all of content_chunks
-- (wide rows: bodies, arrays): about 4 ms of the ~7 ms every read cost whatever its number of
-- learners, a read per batch of cs-readiness. Content is reference data, so the counts are kept
-- in this table instead, recounted in the transaction of any statement that changes
-- content_chunks (career_critical_counts_on_change), and the read joins at most 16 rows.
-- requires: career_critical_counts_refresh, career_critical_counts_on_change

CREATE TABLE career_critical_content_counts (
    industry_id uuid    PRIMARY KEY,
    n           integer NOT NULL CHECK (n > 0)
);
COMMENT ON TABLE career_critical_content_counts IS
    'Career-critical content items per industry (content_chunks), kept by a statement trigger.';

CREATE TRIGGER trg_content_chunks_critical_counts
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON content_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION career_critical_counts_on_change();

SELECT career_critical_counts_refresh();

GRANT SELECT ON career_critical_content_counts TO cs_worker_readiness, cs_app_admin;
