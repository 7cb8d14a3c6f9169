-- sql/migrations/0009_assessment_jobs.sql
--      Skill assessments, interview preparation (mock interview results) and job applications
--      (partitioned by quarter of applied_at) with their status history.
--
-- All four tables are fed by events through cs-progress. References to catalogue rows (skills,
-- assessments, industries, projects) are soft: plain uuids without a foreign key, because the
-- catalogue belongs to the content service and an event may name an item the catalogue does not
-- list yet; the learner reference is a real foreign key (placeholders make it always satisfiable).
-- Keys workers upsert on: user_skill_assessments and interview_preparation by event_id (one event,
-- one row); job_applications by (application_id, applied_at), application_id chosen by the producer.
-- A status change is an UPDATE of job_applications.status; trg_job_applications_status_history
-- (0020) appends it to job_application_status_history, keyed by the event that caused it.
-- requires: cs_partition_ensure

CREATE TABLE user_skill_assessments (
    result_id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id               uuid        NOT NULL UNIQUE,
    skill_id               uuid        NOT NULL,
    assessment_id          uuid,
    assessment_method      text        NOT NULL CHECK (assessment_method IN
                               ('quiz', 'coding_challenge', 'project_review', 'mentor_evaluation',
                                'self_assessment', 'ai_evaluation', 'certification')),
    attempt_number         smallint    NOT NULL DEFAULT 1 CHECK (attempt_number BETWEEN 1 AND 1000),
    score                  numeric(6,2) CHECK (score >= 0),
    max_score              numeric(6,2) CHECK (max_score > 0),
    proficiency_level      text        NOT NULL CHECK (proficiency_level IN ('novice', 'beginner', 'intermediate', 'advanced', 'expert')),
    proficiency_score      numeric(5,2) NOT NULL CHECK (proficiency_score BETWEEN 0 AND 100),
    self_confidence        smallint    CHECK (self_confidence BETWEEN 1 AND 5),
    passed                 boolean,
    time_spent_seconds     integer     CHECK (time_spent_seconds >= 0),
    assessor_type          text        NOT NULL DEFAULT 'system' CHECK (assessor_type IN ('system', 'mentor', 'expert', 'self', 'ai')),
    assessed_by            uuid,
    industry_benchmark_pct numeric(5,2) CHECK (industry_benchmark_pct BETWEEN 0 AND 100),
    strengths              text[]      NOT NULL DEFAULT '{}',
    gaps                   text[]      NOT NULL DEFAULT '{}',
    recommended_content_ids uuid[]     NOT NULL DEFAULT '{}',
    assessed_at            timestamptz NOT NULL,
    valid_until            date,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (score IS NULL OR max_score IS NULL OR score <= max_score)
);
-- Readiness inputs read the latest result per (learner, skill).
CREATE INDEX idx_skill_assessments_user_skill_latest ON user_skill_assessments (user_id, skill_id, assessed_at DESC);

CREATE TABLE interview_preparation (
    prep_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id            uuid        NOT NULL UNIQUE,
    application_id      uuid,
    interview_type      text        NOT NULL CHECK (interview_type IN
                            ('technical', 'behavioral', 'system_design', 'case', 'hr_screen', 'take_home', 'panel')),
    is_mock             boolean     NOT NULL DEFAULT true,
    company_name        text,
    target_role         text,
    conductor_type      text        NOT NULL DEFAULT 'mentor' CHECK (conductor_type IN ('mentor', 'peer', 'ai_avatar', 'employer', 'self')),
    conducted_by        uuid,
    avatar_role_id      uuid,
    status              text        NOT NULL DEFAULT 'completed' CHECK (status IN ('planned', 'completed', 'cancelled')),
    scheduled_at        timestamptz,
    completed_at        timestamptz,
    duration_minutes    integer     CHECK (duration_minutes BETWEEN 0 AND 600),
    questions_practiced integer     NOT NULL DEFAULT 0 CHECK (questions_practiced >= 0),
    technical_score     numeric(5,2) CHECK (technical_score BETWEEN 0 AND 100),
    behavioral_score    numeric(5,2) CHECK (behavioral_score BETWEEN 0 AND 100),
    communication_score numeric(5,2) CHECK (communication_score BETWEEN 0 AND 100),
    overall_score       numeric(5,2) CHECK (overall_score BETWEEN 0 AND 100),
    readiness_rating    text        CHECK (readiness_rating IN ('not_ready', 'developing', 'ready', 'strong')),
    feedback            text,
    strengths           text[]      NOT NULL DEFAULT '{}',
    improvement_areas   text[]      NOT NULL DEFAULT '{}',
    recording_url       text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);
CREATE INDEX idx_interview_prep_user_time ON interview_preparation (user_id, completed_at DESC);

CREATE TABLE job_applications (
    application_id       uuid        NOT NULL,
    applied_at           timestamptz NOT NULL,
    user_id              uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id             uuid        NOT NULL,
    company_name         text        NOT NULL,
    company_industry_id  uuid,
    job_title            text        NOT NULL,
    job_level            text        CHECK (job_level IN ('intern', 'junior', 'mid', 'senior', 'lead')),
    employment_type      text        NOT NULL DEFAULT 'full_time' CHECK (employment_type IN
                             ('full_time', 'part_time', 'contract', 'freelance', 'internship', 'apprenticeship')),
    work_arrangement     text        CHECK (work_arrangement IN ('remote', 'hybrid', 'onsite')),
    location             text,
    job_posting_url      text,
    source               text        NOT NULL DEFAULT 'job_board' CHECK (source IN
                             ('job_board', 'referral', 'company_site', 'recruiter', 'network', 'career_fair', 'platform_partner')),
    referral_mentor_id   uuid,
    salary_min           numeric(12,2) CHECK (salary_min >= 0),
    salary_max           numeric(12,2) CHECK (salary_max >= 0),
    salary_currency      char(3)     NOT NULL DEFAULT 'USD' CHECK (salary_currency ~ '^[A-Z]{3}$'),
    status               text        NOT NULL DEFAULT 'applied' CHECK (status IN
                             ('draft', 'applied', 'screening', 'interviewing', 'offer', 'accepted',
                              'rejected', 'withdrawn', 'ghosted')),
    status_changed_at    timestamptz NOT NULL DEFAULT now(),
    last_event_id        uuid,
    interview_rounds     smallint    NOT NULL DEFAULT 0 CHECK (interview_rounds BETWEEN 0 AND 50),
    next_step            text,
    next_step_at         timestamptz,
    offer_salary         numeric(12,2) CHECK (offer_salary >= 0),
    rejection_reason     text,
    portfolio_project_ids uuid[]     NOT NULL DEFAULT '{}',
    match_score          numeric(5,2) CHECK (match_score BETWEEN 0 AND 100),
    notes                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, applied_at),
    CHECK (salary_min IS NULL OR salary_max IS NULL OR salary_min <= salary_max)
) PARTITION BY RANGE (applied_at);
CREATE INDEX idx_job_applications_user_time ON job_applications (user_id, applied_at DESC);
-- Status events find an application by application_id alone.
CREATE INDEX idx_job_applications_application ON job_applications (application_id);
CREATE INDEX idx_job_applications_open_pipeline ON job_applications (status, next_step_at)
    WHERE status IN ('applied', 'screening', 'interviewing', 'offer');
SELECT cs_partition_ensure('job_applications', 'quarter', 12, 24);

CREATE TABLE job_application_status_history (
    history_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id  uuid        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id        uuid        UNIQUE,
    from_status     text,
    to_status       text        NOT NULL,
    changed_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_job_status_history_application ON job_application_status_history (application_id, changed_at);
CREATE INDEX idx_job_status_history_user ON job_application_status_history (user_id);
