-- sql/migrations/0005_content.sql
--      Career-focused content: chunks with their career metadata and version history, industry
--      case studies, portfolio project templates, role and persona adaptations, AI avatar roles.
--
-- content_chunks is the unit learners consume and the unit user_progress points at. Every change
-- of a chunk's title, body or metadata is kept in content_versions by a trigger (0020), and
-- industry experts review chunks through expert_review_status (row-level security in 0023 lets
-- learners see only published chunks).

CREATE TABLE ai_avatar_roles (
    avatar_role_id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    role_code               text        NOT NULL UNIQUE CHECK (role_code ~ '^[a-z][a-z0-9_]{2,63}$'),
    name                    text        NOT NULL,
    description             text,
    system_prompt           text        NOT NULL,
    coaching_capabilities   text[]      NOT NULL DEFAULT '{}' CHECK (coaching_capabilities <@ ARRAY[
                                'mock_interview', 'resume_review', 'salary_negotiation', 'career_planning',
                                'code_review', 'concept_tutoring', 'motivation', 'networking']::text[]),
    specialization_industries uuid[]    NOT NULL DEFAULT '{}',
    supported_interview_types text[]    NOT NULL DEFAULT '{}',
    tone                    text        NOT NULL DEFAULT 'encouraging' CHECK (tone IN ('encouraging', 'direct', 'socratic', 'professional')),
    model_name              text        NOT NULL,
    temperature             numeric(3,2) NOT NULL DEFAULT 0.70 CHECK (temperature BETWEEN 0 AND 2),
    max_session_minutes     integer     NOT NULL DEFAULT 45 CHECK (max_session_minutes BETWEEN 1 AND 240),
    escalates_to_human_mentor boolean   NOT NULL DEFAULT true,
    is_active               boolean     NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE content_chunks (
    content_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    module_id              uuid        REFERENCES curriculum_modules (module_id) ON DELETE SET NULL,
    topic_id               uuid        REFERENCES curriculum_topics (topic_id) ON DELETE SET NULL,
    concept_id             uuid        REFERENCES curriculum_concepts (concept_id) ON DELETE SET NULL,
    content_type           text        NOT NULL CHECK (content_type IN
                               ('explanation', 'example', 'exercise', 'quiz', 'video', 'case_study',
                                'project_brief', 'interview_prep', 'career_coaching', 'industry_insight')),
    title                  text        NOT NULL,
    summary                text,
    body                   text        NOT NULL,
    format                 text        NOT NULL DEFAULT 'markdown' CHECK (format IN ('markdown', 'html', 'video', 'interactive', 'code')),
    language               text        NOT NULL DEFAULT 'en' CHECK (language ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    sequence_no            integer     NOT NULL DEFAULT 1 CHECK (sequence_no > 0),
    difficulty_level       smallint    NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
    estimated_minutes      integer     NOT NULL DEFAULT 10 CHECK (estimated_minutes BETWEEN 1 AND 600),
    industry_relevance     uuid[]      NOT NULL DEFAULT '{}',
    job_role_tags          text[]      NOT NULL DEFAULT '{}',
    skill_ids              uuid[]      NOT NULL DEFAULT '{}',
    career_stage_tags      text[]      NOT NULL DEFAULT '{}',
    interview_relevance    smallint    NOT NULL DEFAULT 0 CHECK (interview_relevance BETWEEN 0 AND 5),
    workplace_applicability smallint   NOT NULL DEFAULT 0 CHECK (workplace_applicability BETWEEN 0 AND 5),
    is_career_critical     boolean     NOT NULL DEFAULT false,
    real_world_example     text,
    salary_impact_note     text,
    employer_validated     boolean     NOT NULL DEFAULT false,
    expert_review_status   text        NOT NULL DEFAULT 'pending' CHECK (expert_review_status IN
                               ('pending', 'approved', 'changes_requested', 'rejected')),
    expert_review_notes    text,
    validated_by           uuid,
    validated_at           timestamptz,
    author_id              uuid,
    source_url             text,
    accessibility_features text[]      NOT NULL DEFAULT '{}',
    version                integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    status                 text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    published_at           timestamptz,
    view_count             bigint      NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    completion_count       bigint      NOT NULL DEFAULT 0 CHECK (completion_count >= 0),
    avg_rating             numeric(3,2) CHECK (avg_rating BETWEEN 0 AND 5),
    rating_count           integer     NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    avg_time_spent_seconds integer     CHECK (avg_time_spent_seconds >= 0),
    metadata               jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    search_vector          tsvector    GENERATED ALWAYS AS (
                               setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
                               setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B') ||
                               setweight(to_tsvector('english'::regconfig, body), 'C')) STORED,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'published' OR published_at IS NOT NULL),
    CHECK (expert_review_status <> 'approved' OR validated_at IS NOT NULL)
);
-- The seed's industry-content matching index.
CREATE INDEX idx_content_industry_match ON content_chunks USING gin (industry_relevance);
CREATE INDEX idx_content_chunks_search ON content_chunks USING gin (search_vector);
CREATE INDEX idx_content_chunks_skills ON content_chunks USING gin (skill_ids);
CREATE INDEX idx_content_chunks_job_roles ON content_chunks USING gin (job_role_tags);
CREATE INDEX idx_content_chunks_module_sequence ON content_chunks (module_id, sequence_no);
CREATE INDEX idx_content_chunks_topic ON content_chunks (topic_id) WHERE topic_id IS NOT NULL;
CREATE INDEX idx_content_chunks_concept ON content_chunks (concept_id) WHERE concept_id IS NOT NULL;
-- Recommendation scans published career-critical content first.
CREATE INDEX idx_content_chunks_published_critical ON content_chunks (is_career_critical DESC, difficulty_level)
    WHERE status = 'published';
CREATE INDEX idx_content_chunks_review_queue ON content_chunks (expert_review_status, updated_at)
    WHERE expert_review_status IN ('pending', 'changes_requested');

CREATE TABLE content_versions (
    version_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    content_id      uuid        NOT NULL REFERENCES content_chunks (content_id) ON DELETE CASCADE,
    version_number  integer     NOT NULL CHECK (version_number > 0),
    title           text        NOT NULL,
    body            text        NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    changed_by      uuid,
    change_summary  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (content_id, version_number)
);

CREATE TABLE industry_case_studies (
    case_study_id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    industry_id             uuid        NOT NULL REFERENCES industry_sectors (industry_id) ON DELETE RESTRICT,
    content_id              uuid        REFERENCES content_chunks (content_id) ON DELETE SET NULL,
    title                   text        NOT NULL,
    company_name            text        NOT NULL,
    company_size            text        NOT NULL CHECK (company_size IN ('startup', 'smb', 'mid_market', 'enterprise')),
    is_company_anonymized   boolean     NOT NULL DEFAULT false,
    summary                 text        NOT NULL,
    challenge               text,
    approach                text,
    outcome                 text,
    business_impact_metrics jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(business_impact_metrics) = 'object'),
    technologies            text[]      NOT NULL DEFAULT '{}',
    skill_ids               uuid[]      NOT NULL DEFAULT '{}',
    job_roles_involved      text[]      NOT NULL DEFAULT '{}',
    difficulty_level        smallint    NOT NULL DEFAULT 2 CHECK (difficulty_level BETWEEN 1 AND 5),
    discussion_questions    text[]      NOT NULL DEFAULT '{}',
    source_url              text,
    published_year          smallint    CHECK (published_year BETWEEN 1950 AND 2100),
    expert_reviewed_by      uuid,
    status                  text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_industry_case_studies_industry ON industry_case_studies (industry_id, status);
CREATE INDEX idx_industry_case_studies_technologies ON industry_case_studies USING gin (technologies);

CREATE TABLE professional_project_templates (
    template_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    template_code           text        NOT NULL UNIQUE CHECK (template_code ~ '^[a-z][a-z0-9_-]{2,63}$'),
    title                   text        NOT NULL,
    description             text        NOT NULL,
    industry_id             uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    module_id               uuid        REFERENCES curriculum_modules (module_id) ON DELETE SET NULL,
    target_job_roles        text[]      NOT NULL DEFAULT '{}',
    difficulty_level        smallint    NOT NULL DEFAULT 2 CHECK (difficulty_level BETWEEN 1 AND 5),
    estimated_hours         numeric(6,1) NOT NULL CHECK (estimated_hours > 0),
    skill_ids               uuid[]      NOT NULL DEFAULT '{}',
    tech_stack              text[]      NOT NULL DEFAULT '{}',
    requirements            jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(requirements) = 'array'),
    deliverables            text[]      NOT NULL DEFAULT '{}',
    evaluation_rubric       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(evaluation_rubric) = 'object'),
    showcase_criteria       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(showcase_criteria) = 'object'),
    starter_repo_url        text,
    example_solution_url    text,
    employer_relevance_score numeric(5,2) CHECK (employer_relevance_score BETWEEN 0 AND 100),
    portfolio_impact        text        NOT NULL DEFAULT 'intermediate' CHECK (portfolio_impact IN ('foundational', 'intermediate', 'signature')),
    is_team_project         boolean     NOT NULL DEFAULT false,
    max_team_size           smallint    NOT NULL DEFAULT 1 CHECK (max_team_size BETWEEN 1 AND 12),
    times_used              integer     NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    status                  text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (is_team_project OR max_team_size = 1)
);
CREATE INDEX idx_project_templates_industry_difficulty ON professional_project_templates (industry_id, difficulty_level)
    WHERE status = 'published';
CREATE INDEX idx_project_templates_job_roles ON professional_project_templates USING gin (target_job_roles);

CREATE TABLE content_role_variations (
    variation_id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    content_id             uuid        NOT NULL REFERENCES content_chunks (content_id) ON DELETE CASCADE,
    target_job_role        text        NOT NULL,
    industry_id            uuid        REFERENCES industry_sectors (industry_id) ON DELETE CASCADE,
    avatar_role_id         uuid        REFERENCES ai_avatar_roles (avatar_role_id) ON DELETE SET NULL,
    title                  text        NOT NULL,
    body                   text        NOT NULL,
    role_specific_examples text[]      NOT NULL DEFAULT '{}',
    coaching_prompts       text[]      NOT NULL DEFAULT '{}',
    reflection_questions   text[]      NOT NULL DEFAULT '{}',
    career_tips            text[]      NOT NULL DEFAULT '{}',
    day_in_the_life        text,
    tone                   text        NOT NULL DEFAULT 'professional' CHECK (tone IN ('encouraging', 'direct', 'socratic', 'professional')),
    difficulty_adjustment  smallint    NOT NULL DEFAULT 0 CHECK (difficulty_adjustment BETWEEN -2 AND 2),
    estimated_minutes      integer     CHECK (estimated_minutes BETWEEN 1 AND 600),
    effectiveness_score    numeric(5,2) CHECK (effectiveness_score BETWEEN 0 AND 100),
    usage_count            integer     NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    status                 text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (content_id, target_job_role, industry_id)
);

CREATE TABLE persona_content_adaptations (
    adaptation_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    content_id                uuid        NOT NULL REFERENCES content_chunks (content_id) ON DELETE CASCADE,
    persona_id                uuid        NOT NULL REFERENCES persona_profiles (persona_id) ON DELETE CASCADE,
    adapted_title             text,
    adapted_body              text        NOT NULL,
    prior_experience_bridges  text[]      NOT NULL DEFAULT '{}',
    transition_context        text,
    transferable_skills       text[]      NOT NULL DEFAULT '{}',
    confidence_building_notes text,
    barrier_mitigations       text[]      NOT NULL DEFAULT '{}',
    motivation_message        text,
    pacing_adjustment         text        NOT NULL DEFAULT 'standard' CHECK (pacing_adjustment IN ('slower', 'standard', 'faster')),
    additional_resources      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(additional_resources) = 'array'),
    effectiveness_score       numeric(5,2) CHECK (effectiveness_score BETWEEN 0 AND 100),
    usage_count               integer     NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    status                    text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (content_id, persona_id)
);
CREATE INDEX idx_persona_content_adaptations_persona ON persona_content_adaptations (persona_id);
