-- sql/migrations/0070_readiness_scores.sql
--      What cs-readiness stores with a score: the three dimensions 0010 lacked, the stage, the
--      explanation, what it last emitted, and the history of every change.
--
-- 0010 gave career_transformation_progress four readiness dimensions (technical, portfolio,
-- interview, professional) where the model (cs/readiness.h) has six: skills (stored in
-- readiness_technical), portfolio, interview, learning, job search, mentoring. readiness_professional
-- stays for compatibility and is left NULL by cs-readiness. readiness_explanation is the score's
-- explanation as cs_readiness_explain_json renders it (evidence, gaps, the best single change);
-- readiness_components keeps its 0010 meaning for other writers. readiness_emitted_score and
-- readiness_emitted_stage are what the last readiness_score_changed stated (NULL: none yet), the
-- reference cs_readiness_should_emit compares with, so one change is never emitted twice.
-- career_readiness_history has one row per stored change of a learner's score or stage, keyed by
-- the event that caused it, so a batch retried or replayed adds nothing twice.

ALTER TABLE career_transformation_progress
    ADD COLUMN readiness_learning      numeric(5,2) CHECK (readiness_learning BETWEEN 0 AND 100),
    ADD COLUMN readiness_job_search    numeric(5,2) CHECK (readiness_job_search BETWEEN 0 AND 100),
    ADD COLUMN readiness_mentoring     numeric(5,2) CHECK (readiness_mentoring BETWEEN 0 AND 100),
    ADD COLUMN readiness_stage         text CHECK (readiness_stage IN
                                           ('exploring', 'learning', 'building_portfolio',
                                            'job_searching', 'interviewing', 'placed')),
    ADD COLUMN readiness_explanation   jsonb CHECK (jsonb_typeof(readiness_explanation) = 'object'),
    ADD COLUMN readiness_emitted_score numeric(5,2) CHECK (readiness_emitted_score BETWEEN 0 AND 100),
    ADD COLUMN readiness_emitted_stage text;

CREATE TABLE career_readiness_history (
    user_id          uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    source_event_id  uuid        NOT NULL,
    score            numeric(5,2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    previous_score   numeric(5,2) CHECK (previous_score BETWEEN 0 AND 100),
    stage            text        NOT NULL,
    skills           numeric(5,2) NOT NULL,
    portfolio        numeric(5,2) NOT NULL,
    interview        numeric(5,2) NOT NULL,
    learning         numeric(5,2) NOT NULL,
    job_search       numeric(5,2) NOT NULL,
    mentoring        numeric(5,2) NOT NULL,
    model_version    text        NOT NULL,
    emitted          boolean     NOT NULL DEFAULT false,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, source_event_id)
);
COMMENT ON TABLE career_readiness_history IS
    'Every change of a learner''s readiness score or stage, as cs-readiness stored it.';

GRANT SELECT, INSERT ON career_readiness_history TO cs_worker_readiness;
GRANT SELECT ON career_readiness_history TO cs_app_admin;
