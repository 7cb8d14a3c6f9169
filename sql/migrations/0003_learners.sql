-- sql/migrations/0003_learners.sql
--      The learner anchor (user_career_profiles) and the GDPR erasure ledger (erased_users).
--
-- The platform has no users table of its own: user_career_profiles.user_id is the learner's
-- pseudonymous id and every learner-owned row references it with ON DELETE CASCADE, so erasing a
-- learner is one DELETE here (see sql/functions/gdpr_erase_user.sql). Workers create a placeholder row with
-- only user_id when an event arrives for an unseen learner:
--     INSERT INTO user_career_profiles (user_id) VALUES ($1) ON CONFLICT DO NOTHING
-- so every other column is nullable or defaulted, and profile_source tells placeholders ('event')
-- from profiles the app filled in ('app').
--
-- erased_users is permanent: a learner recorded there can never get a profile again (trigger
-- trg_user_career_profiles_refuse_erased raises SQLSTATE CS001), so no replay or late event can
-- bring an erased learner back. Consumers and the replay tool should check the ledger first and
-- skip such events; the trigger is the last line of defence.

CREATE TABLE erased_users (
    user_id          uuid        PRIMARY KEY,
    erased_at        timestamptz NOT NULL DEFAULT now(),
    request_event_id uuid,
    reason           text
);

CREATE TABLE user_career_profiles (
    user_id                   uuid        PRIMARY KEY,
    profile_source            text        NOT NULL DEFAULT 'event' CHECK (profile_source IN ('event', 'app', 'seed', 'import')),
    persona_id                uuid        REFERENCES persona_profiles (persona_id) ON DELETE SET NULL,
    display_name              text,
    current_job_title         text,
    current_industry_id       uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    years_experience          numeric(4,1) CHECK (years_experience BETWEEN 0 AND 60),
    highest_education         text        CHECK (highest_education IN
                                  ('secondary', 'vocational', 'associate', 'bachelor', 'master', 'doctorate', 'other')),
    current_salary            numeric(12,2) CHECK (current_salary >= 0),
    salary_currency           char(3)     NOT NULL DEFAULT 'USD' CHECK (salary_currency ~ '^[A-Z]{3}$'),
    target_industry_id        uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    target_role               text,
    target_salary             numeric(12,2) CHECK (target_salary >= 0),
    career_stage              text        NOT NULL DEFAULT 'exploring' CHECK (career_stage IN
                                  ('exploring', 'learning', 'job_ready', 'job_searching', 'transitioned', 'advancing')),
    transition_motivation     text,
    available_study_hours_week numeric(4,1) CHECK (available_study_hours_week BETWEEN 0 AND 100),
    preferred_learning_style  text        CHECK (preferred_learning_style IN ('visual', 'reading', 'hands_on', 'auditory', 'mixed')),
    experience_level          text        NOT NULL DEFAULT 'beginner' CHECK (experience_level IN ('beginner', 'intermediate', 'advanced')),
    timezone                  text        CHECK (timezone ~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$'),
    utc_offset_minutes        smallint    CHECK (utc_offset_minutes BETWEEN -720 AND 840),
    country_code              char(2)     CHECK (country_code ~ '^[A-Z]{2}$'),
    city                      text,
    remote_preference         text        NOT NULL DEFAULT 'any' CHECK (remote_preference IN ('remote', 'hybrid', 'onsite', 'any')),
    willing_to_relocate       boolean,
    program_start_date        date,
    target_job_start_date     date,
    linkedin_url              text        CHECK (linkedin_url ~ '^https://'),
    portfolio_url             text        CHECK (portfolio_url ~ '^https://'),
    github_username           text        CHECK (github_username ~ '^[A-Za-z0-9-]{1,39}$'),
    prior_skills              text[]      NOT NULL DEFAULT '{}',
    target_skill_ids          uuid[]      NOT NULL DEFAULT '{}',
    preferred_mentor_traits   text[]      NOT NULL DEFAULT '{}',
    onboarding_completed      boolean     NOT NULL DEFAULT false,
    consent_analytics         boolean     NOT NULL DEFAULT false,
    consent_employer_contact  boolean     NOT NULL DEFAULT false,
    is_active                 boolean     NOT NULL DEFAULT true,
    last_active_at            timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
-- The seed's composite: learners by target, stage and time budget (matching, cohort reports).
CREATE INDEX idx_career_readiness_composite ON user_career_profiles
    (target_industry_id, career_stage, available_study_hours_week);
CREATE INDEX idx_user_career_profiles_persona ON user_career_profiles (persona_id) WHERE persona_id IS NOT NULL;
CREATE INDEX idx_user_career_profiles_target_skills ON user_career_profiles USING gin (target_skill_ids);
CREATE INDEX idx_user_career_profiles_active_recent ON user_career_profiles (last_active_at DESC)
    WHERE is_active;
