-- sql/migrations/0102_progress_readiness_columns_comments.sql
--      Says on career_transformation_progress's readiness columns that careerstream no longer
--      writes them and where the score is: a reader of the platform's schema (psql's \d+, a
--      catalog browser) would otherwise take an always-NULL column for a learner without a score.
--
-- Since 0099 cs-readiness keeps each learner's score in career_readiness_scores (its columns:
-- score, skills, portfolio, interview, learning, job_search, mentoring, stage, explanation,
-- model_version, computed_at, source_event_id, emitted_score, emitted_stage, inputs_fp) and
-- emptied what it had written here. The columns stay (the platform's schema names the 0010 ones;
-- 0070's are careerstream's and unused now).

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
            ('readiness_score', 'score'), ('readiness_technical', 'skills'),
            ('readiness_portfolio', 'portfolio'), ('readiness_interview', 'interview'),
            ('readiness_learning', 'learning'), ('readiness_job_search', 'job_search'),
            ('readiness_mentoring', 'mentoring'), ('readiness_stage', 'stage'),
            ('readiness_explanation', 'explanation'), ('readiness_model_version', 'model_version'),
            ('readiness_computed_at', 'computed_at'), ('readiness_source_event_id', 'source_event_id'),
            ('readiness_emitted_score', 'emitted_score'), ('readiness_emitted_stage', 'emitted_stage'),
            ('readiness_inputs_fp', 'inputs_fp')) AS v(col, moved_to)
    LOOP
        EXECUTE format('COMMENT ON COLUMN career_transformation_progress.%I IS %L', c.col,
                       'Not written by careerstream since migration 0099: cs-readiness stores the score in '
                       || 'career_readiness_scores.' || c.moved_to || ' (join on user_id).');
    END LOOP;
END
$$;
