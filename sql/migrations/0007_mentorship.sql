-- sql/migrations/0007_mentorship.sql
--      Mentors (expertise, capacity, availability, timezone, ratings), mentor-mentee
--      relationships, coaching sessions (partitioned monthly) and career milestones.
--
-- Identity: a mentor acting in the mentor app sets app.user_id to their mentor_id.
-- Capacity: a relationship may become active only while the mentor has room
-- (current_mentee_count < max_mentees); the triggers in 0020 check and maintain this under a row
-- lock on the mentor, so two concurrent activations cannot both take the last place.
-- Event-fed tables (career_coaching_sessions, career_milestones) are written by cs-progress:
-- sessions are upserted on (session_id, scheduled_at), milestones on event_id or their natural
-- key (user_id, milestone_type, reference_id).
-- requires: cs_partition_ensure

CREATE TABLE mentor_profiles (
    mentor_id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    account_user_id          uuid        UNIQUE,
    display_name             text        NOT NULL,
    headline                 text,
    bio                      text,
    current_title            text,
    current_company          text,
    industry_id              uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    years_experience         numeric(4,1) NOT NULL DEFAULT 0 CHECK (years_experience BETWEEN 0 AND 60),
    expertise_skill_ids      uuid[]      NOT NULL DEFAULT '{}',
    expertise_areas          text[]      NOT NULL DEFAULT '{}',
    expertise_levels         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(expertise_levels) = 'object'),
    is_career_changer        boolean     NOT NULL DEFAULT false,
    previous_career          text,
    mentoring_style          text        NOT NULL DEFAULT 'coaching' CHECK (mentoring_style IN ('directive', 'facilitative', 'coaching', 'hands_on')),
    max_mentees              smallint    NOT NULL DEFAULT 5 CHECK (max_mentees BETWEEN 0 AND 50),
    current_mentee_count     smallint    NOT NULL DEFAULT 0 CHECK (current_mentee_count >= 0),
    availability_status      text        NOT NULL DEFAULT 'available' CHECK (availability_status IN
                                 ('available', 'limited', 'full', 'on_leave', 'inactive')),
    weekly_availability      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(weekly_availability) = 'array'),
    available_hours_per_week numeric(4,1) NOT NULL DEFAULT 2 CHECK (available_hours_per_week BETWEEN 0 AND 40),
    timezone                 text        NOT NULL DEFAULT 'UTC' CHECK (timezone ~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$'),
    utc_offset_minutes       smallint    NOT NULL DEFAULT 0 CHECK (utc_offset_minutes BETWEEN -720 AND 840),
    languages                text[]      NOT NULL DEFAULT '{en}',
    session_rate_usd         numeric(8,2) NOT NULL DEFAULT 0 CHECK (session_rate_usd >= 0),
    avg_rating               numeric(3,2) CHECK (avg_rating BETWEEN 1 AND 5),
    rating_count             integer     NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    total_sessions           integer     NOT NULL DEFAULT 0 CHECK (total_sessions >= 0),
    successful_placements    integer     NOT NULL DEFAULT 0 CHECK (successful_placements >= 0),
    avg_response_hours       numeric(6,2) CHECK (avg_response_hours >= 0),
    accepting_new_mentees    boolean     NOT NULL DEFAULT true,
    verified_at              timestamptz,
    is_active                boolean     NOT NULL DEFAULT true,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
-- Mentor matching: mentors with room, by industry, best rated first.
CREATE INDEX idx_mentor_profiles_matching_capacity ON mentor_profiles (industry_id, avg_rating DESC NULLS LAST)
    WHERE is_active AND accepting_new_mentees AND current_mentee_count < max_mentees;
CREATE INDEX idx_mentor_profiles_expertise ON mentor_profiles USING gin (expertise_skill_ids);
CREATE INDEX idx_mentor_profiles_timezone ON mentor_profiles (utc_offset_minutes) WHERE is_active;

CREATE TABLE mentorship_relationships (
    relationship_id     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    mentor_id           uuid        NOT NULL REFERENCES mentor_profiles (mentor_id) ON DELETE CASCADE,
    mentee_id           uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id            uuid        UNIQUE,
    status              text        NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'active', 'paused', 'ended', 'declined')),
    matched_by          text        NOT NULL DEFAULT 'algorithm' CHECK (matched_by IN ('algorithm', 'admin', 'self_selected')),
    match_score         numeric(5,2) CHECK (match_score BETWEEN 0 AND 100),
    match_reasons       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(match_reasons) = 'object'),
    goals               text[]      NOT NULL DEFAULT '{}',
    meeting_cadence     text        NOT NULL DEFAULT 'biweekly' CHECK (meeting_cadence IN ('weekly', 'biweekly', 'monthly', 'ad_hoc')),
    requested_at        timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    ended_at            timestamptz,
    end_reason          text        CHECK (end_reason IN ('goals_met', 'mentee_placed', 'mentor_unavailable',
                            'mismatch', 'mentee_inactive', 'program_completed', 'erased', 'other')),
    sessions_completed  integer     NOT NULL DEFAULT 0 CHECK (sessions_completed >= 0),
    last_session_at     timestamptz,
    mentee_satisfaction smallint    CHECK (mentee_satisfaction BETWEEN 1 AND 5),
    progress_notes      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (status NOT IN ('active', 'paused', 'ended') OR started_at IS NOT NULL OR status = 'ended'),
    CHECK (status <> 'ended' OR ended_at IS NOT NULL),
    CHECK (ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at)
);
-- One open relationship per pair; the RLS mentor policy probes (mentor_id, mentee_id, status).
CREATE UNIQUE INDEX idx_mentorship_open_pair ON mentorship_relationships (mentor_id, mentee_id)
    WHERE status IN ('proposed', 'active', 'paused');
CREATE INDEX idx_mentorship_active_by_mentor ON mentorship_relationships (mentor_id, mentee_id)
    WHERE status = 'active';
CREATE INDEX idx_mentorship_by_mentee ON mentorship_relationships (mentee_id, status);

-- Coaching sessions, partitioned by month of scheduled_at (see cs_partition_ensure below).
CREATE TABLE career_coaching_sessions (
    session_id        uuid        NOT NULL,
    scheduled_at      timestamptz NOT NULL,
    user_id           uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    mentor_id         uuid        REFERENCES mentor_profiles (mentor_id) ON DELETE SET NULL,
    relationship_id   uuid        REFERENCES mentorship_relationships (relationship_id) ON DELETE SET NULL,
    avatar_role_id    uuid        REFERENCES ai_avatar_roles (avatar_role_id) ON DELETE SET NULL,
    event_id          uuid        NOT NULL,
    session_type      text        NOT NULL CHECK (session_type IN
                          ('career_planning', 'resume_review', 'mock_interview', 'technical_coaching',
                           'salary_negotiation', 'portfolio_review', 'networking', 'check_in')),
    delivery_mode     text        NOT NULL DEFAULT 'video' CHECK (delivery_mode IN ('video', 'phone', 'chat', 'in_person', 'ai_avatar')),
    status            text        NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'completed', 'cancelled', 'no_show', 'rescheduled')),
    duration_minutes  integer     CHECK (duration_minutes BETWEEN 0 AND 480),
    actual_started_at timestamptz,
    actual_ended_at   timestamptz,
    agenda            text,
    topics_covered    text[]      NOT NULL DEFAULT '{}',
    action_items      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(action_items) = 'array'),
    mentor_notes      text,
    mentee_rating     smallint    CHECK (mentee_rating BETWEEN 1 AND 5),
    mentor_engagement_rating smallint CHECK (mentor_engagement_rating BETWEEN 1 AND 5),
    outcome_summary   text,
    follow_up_at      timestamptz,
    last_event_id     uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, scheduled_at),
    CHECK (mentor_id IS NOT NULL OR avatar_role_id IS NOT NULL OR delivery_mode <> 'ai_avatar'),
    CHECK (actual_ended_at IS NULL OR actual_started_at IS NULL OR actual_ended_at >= actual_started_at)
) PARTITION BY RANGE (scheduled_at);
CREATE INDEX idx_coaching_sessions_user_time ON career_coaching_sessions (user_id, scheduled_at DESC);
CREATE INDEX idx_coaching_sessions_mentor_time ON career_coaching_sessions (mentor_id, scheduled_at DESC)
    WHERE mentor_id IS NOT NULL;
-- Later events of a session (completed, rated) find it by session_id alone.
CREATE INDEX idx_coaching_sessions_session ON career_coaching_sessions (session_id);
SELECT cs_partition_ensure('career_coaching_sessions', 'month', 12, 12);

CREATE TABLE career_milestones (
    milestone_id       uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    event_id           uuid        UNIQUE,
    milestone_type     text        NOT NULL CHECK (milestone_type IN
                           ('module_completed', 'skill_mastered', 'project_completed', 'project_showcase_ready',
                            'mock_interview_passed', 'first_application', 'first_interview', 'offer_received',
                            'job_started', 'certification_earned', 'mentor_matched', 'readiness_threshold', 'custom')),
    reference_id       uuid,
    title              text,
    description        text,
    achieved_at        timestamptz NOT NULL DEFAULT now(),
    significance       text        NOT NULL DEFAULT 'minor' CHECK (significance IN ('minor', 'major', 'transformational')),
    points             integer     NOT NULL DEFAULT 0 CHECK (points >= 0),
    readiness_score_at numeric(5,2) CHECK (readiness_score_at BETWEEN 0 AND 100),
    celebrated         boolean     NOT NULL DEFAULT false,
    shared_publicly    boolean     NOT NULL DEFAULT false,
    verified_by        uuid,
    evidence_url       text,
    metadata           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (user_id, milestone_type, reference_id)
);
CREATE INDEX idx_career_milestones_user_time ON career_milestones (user_id, achieved_at DESC);
