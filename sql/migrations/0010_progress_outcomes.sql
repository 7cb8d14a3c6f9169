-- sql/migrations/0010_progress_outcomes.sql
--      Learner progress per content item (hash-partitioned by learner, 8 partitions), the
--      per-learner transformation tracker with its readiness score, career outcomes and employer
--      feedback on graduates.
--
-- user_progress is the hottest table: cs-progress upserts it on (user_id, content_id) and keeps
-- only the newest event (last_event_at) so replays and out-of-order events converge. It carries
-- two indexes and the updated_at trigger, nothing else.
-- career_transformation_progress has one row per learner. The readiness columns are written by
-- cs-readiness, which computes the score in C from career_readiness_inputs() (sql/functions/): the formula
-- lives in the worker only; SQL stores, never recomputes.
-- employer_feedback is anonymised (anonymize_employer_feedback, sql/functions/) when the graduate is erased
-- or the retention period ends: identifying columns are cleared, ratings stay for analytics.

CREATE TABLE user_progress (
    user_id                uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    content_id             uuid        NOT NULL,
    event_id               uuid        NOT NULL,
    last_event_id          uuid,
    last_event_at          timestamptz NOT NULL,
    module_id              uuid,
    component_id           uuid,
    topic_id               uuid,
    content_type           text,
    status                 text        NOT NULL DEFAULT 'in_progress' CHECK (status IN
                               ('not_started', 'in_progress', 'completed', 'mastered', 'skipped')),
    progress_pct           numeric(5,2) NOT NULL DEFAULT 0 CHECK (progress_pct BETWEEN 0 AND 100),
    started_at             timestamptz,
    completed_at           timestamptz,
    last_accessed_at       timestamptz,
    time_spent_seconds     bigint      NOT NULL DEFAULT 0 CHECK (time_spent_seconds >= 0),
    session_count          integer     NOT NULL DEFAULT 1 CHECK (session_count >= 0),
    attempts               integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    score                  numeric(5,2) CHECK (score BETWEEN 0 AND 100),
    best_score             numeric(5,2) CHECK (best_score BETWEEN 0 AND 100),
    mastery_level          numeric(4,3) CHECK (mastery_level BETWEEN 0 AND 1),
    hints_used             integer     NOT NULL DEFAULT 0 CHECK (hints_used >= 0),
    confidence_rating      smallint    CHECK (confidence_rating BETWEEN 1 AND 5),
    difficulty_rating      smallint    CHECK (difficulty_rating BETWEEN 1 AND 5),
    content_rating         smallint    CHECK (content_rating BETWEEN 1 AND 5),
    career_relevance_rating smallint   CHECK (career_relevance_rating BETWEEN 1 AND 5),
    applied_in_project     boolean     NOT NULL DEFAULT false,
    interview_ready        boolean     NOT NULL DEFAULT false,
    skill_ids              uuid[]      NOT NULL DEFAULT '{}',
    bookmarked             boolean     NOT NULL DEFAULT false,
    notes_count            integer     NOT NULL DEFAULT 0 CHECK (notes_count >= 0),
    device_type            text        CHECK (device_type IN ('web', 'mobile', 'tablet', 'desktop_app')),
    learning_path_id       uuid,
    streak_days            integer     NOT NULL DEFAULT 0 CHECK (streak_days >= 0),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, content_id),
    CHECK (status NOT IN ('completed', 'mastered') OR completed_at IS NOT NULL),
    CHECK (best_score IS NULL OR score IS NULL OR best_score >= score)
) PARTITION BY HASH (user_id);
DO $parts$
BEGIN
    FOR i IN 0..7 LOOP
        EXECUTE format('CREATE TABLE user_progress_h%s PARTITION OF user_progress
                        FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
    END LOOP;
END
$parts$;
-- "Continue where you left off" in the learner app.
CREATE INDEX idx_user_progress_recent ON user_progress (user_id, last_accessed_at DESC);

CREATE TABLE career_transformation_progress (
    user_id                    uuid        PRIMARY KEY REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    last_event_id              uuid,
    current_phase              text        NOT NULL DEFAULT 'foundation' CHECK (current_phase IN
                                   ('foundation', 'skill_building', 'portfolio', 'job_search', 'placed')),
    phase_started_at           timestamptz NOT NULL DEFAULT now(),
    overall_progress_pct       numeric(5,2) NOT NULL DEFAULT 0 CHECK (overall_progress_pct BETWEEN 0 AND 100),
    modules_completed          integer     NOT NULL DEFAULT 0 CHECK (modules_completed >= 0),
    content_completed          integer     NOT NULL DEFAULT 0 CHECK (content_completed >= 0),
    skills_mastered            integer     NOT NULL DEFAULT 0 CHECK (skills_mastered >= 0),
    projects_completed         integer     NOT NULL DEFAULT 0 CHECK (projects_completed >= 0),
    showcase_ready_projects    integer     NOT NULL DEFAULT 0 CHECK (showcase_ready_projects >= 0),
    coaching_sessions_completed integer    NOT NULL DEFAULT 0 CHECK (coaching_sessions_completed >= 0),
    mock_interviews_completed  integer     NOT NULL DEFAULT 0 CHECK (mock_interviews_completed >= 0),
    applications_submitted     integer     NOT NULL DEFAULT 0 CHECK (applications_submitted >= 0),
    interviews_received        integer     NOT NULL DEFAULT 0 CHECK (interviews_received >= 0),
    offers_received            integer     NOT NULL DEFAULT 0 CHECK (offers_received >= 0),
    readiness_score            numeric(5,2) CHECK (readiness_score BETWEEN 0 AND 100),
    readiness_technical        numeric(5,2) CHECK (readiness_technical BETWEEN 0 AND 100),
    readiness_portfolio        numeric(5,2) CHECK (readiness_portfolio BETWEEN 0 AND 100),
    readiness_interview        numeric(5,2) CHECK (readiness_interview BETWEEN 0 AND 100),
    readiness_professional     numeric(5,2) CHECK (readiness_professional BETWEEN 0 AND 100),
    readiness_components       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(readiness_components) = 'object'),
    readiness_model_version    text,
    readiness_computed_at      timestamptz,
    readiness_source_event_id  uuid,
    estimated_job_ready_date   date,
    at_risk                    boolean     NOT NULL DEFAULT false,
    risk_reasons               text[]      NOT NULL DEFAULT '{}',
    last_activity_at           timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CHECK (readiness_score IS NULL OR readiness_computed_at IS NOT NULL)
);
CREATE INDEX idx_transformation_progress_phase_readiness ON career_transformation_progress
    (current_phase, readiness_score DESC NULLS LAST);
CREATE INDEX idx_transformation_progress_at_risk ON career_transformation_progress (last_activity_at)
    WHERE at_risk;

CREATE TABLE career_outcomes (
    outcome_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id               uuid        UNIQUE,
    outcome_type           text        NOT NULL CHECK (outcome_type IN
                               ('job_offer_accepted', 'promotion', 'freelance', 'internship',
                                'still_searching', 'left_program', 'further_education')),
    application_id         uuid,
    employer_name          text,
    employer_industry_id   uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    job_title              text,
    job_level              text        CHECK (job_level IN ('intern', 'junior', 'mid', 'senior', 'lead')),
    employment_type        text        CHECK (employment_type IN
                               ('full_time', 'part_time', 'contract', 'freelance', 'internship', 'apprenticeship')),
    work_arrangement       text        CHECK (work_arrangement IN ('remote', 'hybrid', 'onsite')),
    location_city          text,
    country_code           char(2)     CHECK (country_code ~ '^[A-Z]{2}$'),
    offer_date             date,
    start_date             date,
    salary_currency        char(3)     NOT NULL DEFAULT 'USD' CHECK (salary_currency ~ '^[A-Z]{3}$'),
    salary_before          numeric(12,2) CHECK (salary_before >= 0),
    salary_after           numeric(12,2) CHECK (salary_after >= 0),
    salary_increase_pct    numeric(8,2) GENERATED ALWAYS AS (
                               CASE WHEN salary_before > 0 AND salary_after IS NOT NULL
                                    THEN round((salary_after - salary_before) / salary_before * 100, 2) END) STORED,
    days_to_offer          integer     CHECK (days_to_offer >= 0),
    program_completion_pct numeric(5,2) CHECK (program_completion_pct BETWEEN 0 AND 100),
    readiness_score_at_offer numeric(5,2) CHECK (readiness_score_at_offer BETWEEN 0 AND 100),
    satisfaction_rating    smallint    CHECK (satisfaction_rating BETWEEN 1 AND 5),
    role_relevance_rating  smallint    CHECK (role_relevance_rating BETWEEN 1 AND 5),
    portfolio_used_in_hiring boolean,
    attributed_mentor_id   uuid        REFERENCES mentor_profiles (mentor_id) ON DELETE SET NULL,
    verified               boolean     NOT NULL DEFAULT false,
    verified_at            timestamptz,
    verification_source    text        CHECK (verification_source IN ('employer', 'offer_letter', 'linkedin', 'self_reported')),
    is_current             boolean     NOT NULL DEFAULT true,
    outcome_at             timestamptz NOT NULL DEFAULT now(),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT verified OR verified_at IS NOT NULL),
    CHECK (start_date IS NULL OR offer_date IS NULL OR start_date >= offer_date)
);
CREATE INDEX idx_career_outcomes_user ON career_outcomes (user_id, outcome_at DESC);
CREATE INDEX idx_career_outcomes_industry_type ON career_outcomes (employer_industry_id, outcome_type);
CREATE INDEX idx_career_outcomes_mentor ON career_outcomes (attributed_mentor_id) WHERE attributed_mentor_id IS NOT NULL;

CREATE TABLE employer_feedback (
    feedback_id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id                   uuid        UNIQUE,
    user_id                    uuid        REFERENCES user_career_profiles (user_id) ON DELETE SET NULL,
    outcome_id                 uuid        REFERENCES career_outcomes (outcome_id) ON DELETE SET NULL,
    employer_name              text,
    employer_industry_id       uuid,
    employer_contact_name      text,
    employer_contact_email     text        CHECK (employer_contact_email ~ '^[^@\s]+@[^@\s]+$'),
    reviewer_role              text,
    feedback_period            text        NOT NULL CHECK (feedback_period IN ('30_day', '90_day', '6_month', '12_month', 'ad_hoc')),
    job_title                  text,
    technical_skills_rating    smallint    CHECK (technical_skills_rating BETWEEN 1 AND 5),
    soft_skills_rating         smallint    CHECK (soft_skills_rating BETWEEN 1 AND 5),
    communication_rating       smallint    CHECK (communication_rating BETWEEN 1 AND 5),
    teamwork_rating            smallint    CHECK (teamwork_rating BETWEEN 1 AND 5),
    problem_solving_rating     smallint    CHECK (problem_solving_rating BETWEEN 1 AND 5),
    preparedness_rating        smallint    CHECK (preparedness_rating BETWEEN 1 AND 5),
    overall_performance_rating smallint    NOT NULL CHECK (overall_performance_rating BETWEEN 1 AND 5),
    would_hire_again           boolean,
    compared_to_peers          text        CHECK (compared_to_peers IN ('below', 'on_par', 'above', 'well_above')),
    strengths                  text[]      NOT NULL DEFAULT '{}',
    skill_gaps                 text[]      NOT NULL DEFAULT '{}',
    curriculum_suggestions     text,
    comments                   text,
    shared_with_graduate       boolean     NOT NULL DEFAULT false,
    consent_to_publish         boolean     NOT NULL DEFAULT false,
    anonymized_at              timestamptz,
    submitted_at               timestamptz NOT NULL DEFAULT now(),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CHECK (anonymized_at IS NULL OR (user_id IS NULL AND employer_contact_name IS NULL
                                     AND employer_contact_email IS NULL AND comments IS NULL))
);
CREATE INDEX idx_employer_feedback_user ON employer_feedback (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX idx_employer_feedback_anonymize_due ON employer_feedback (submitted_at) WHERE anonymized_at IS NULL;
