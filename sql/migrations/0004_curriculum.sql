-- sql/migrations/0004_curriculum.sql
--      The curriculum hierarchy: modules > components > topics > concepts.
--
-- Each level carries its career meaning: modules their career-stage alignment and industry
-- applications, components the job roles they prepare for, topics workplace scenarios and
-- interview relevance, concepts professional use cases. Children are deleted with their parent.

CREATE TABLE curriculum_modules (
    module_id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    module_code             text        NOT NULL UNIQUE CHECK (module_code ~ '^[A-Z][A-Z0-9-]{1,31}$'),
    title                   text        NOT NULL,
    description             text,
    sequence_no             integer     NOT NULL CHECK (sequence_no > 0),
    track                   text        NOT NULL CHECK (track IN
                                ('software_engineering', 'data_analytics', 'data_science', 'cloud_devops',
                                 'cybersecurity', 'ux_design', 'product_management', 'career_skills')),
    career_stage_alignment  text        NOT NULL CHECK (career_stage_alignment IN
                                ('exploring', 'learning', 'job_ready', 'job_searching', 'transitioned', 'advancing')),
    difficulty_level        smallint    NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
    estimated_hours         numeric(6,1) NOT NULL CHECK (estimated_hours > 0),
    industry_applications   uuid[]      NOT NULL DEFAULT '{}',
    target_job_roles        text[]      NOT NULL DEFAULT '{}',
    learning_objectives     text[]      NOT NULL DEFAULT '{}',
    prerequisite_module_ids uuid[]      NOT NULL DEFAULT '{}',
    skill_ids               uuid[]      NOT NULL DEFAULT '{}',
    portfolio_outcome       text,
    is_career_critical      boolean     NOT NULL DEFAULT false,
    status                  text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    published_at            timestamptz,
    version                 integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'published' OR published_at IS NOT NULL)
);
CREATE UNIQUE INDEX idx_curriculum_modules_track_sequence ON curriculum_modules (track, sequence_no);
CREATE INDEX idx_curriculum_modules_industry_applications ON curriculum_modules USING gin (industry_applications);

CREATE TABLE curriculum_components (
    component_id        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    module_id           uuid        NOT NULL REFERENCES curriculum_modules (module_id) ON DELETE CASCADE,
    title               text        NOT NULL,
    description         text,
    sequence_no         integer     NOT NULL CHECK (sequence_no > 0),
    component_type      text        NOT NULL CHECK (component_type IN
                            ('lesson', 'lab', 'project', 'assessment', 'workshop', 'case_study')),
    job_role_mapping    text[]      NOT NULL DEFAULT '{}',
    job_task_examples   text[]      NOT NULL DEFAULT '{}',
    estimated_minutes   integer     NOT NULL CHECK (estimated_minutes > 0),
    difficulty_level    smallint    NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
    skill_ids           uuid[]      NOT NULL DEFAULT '{}',
    is_required         boolean     NOT NULL DEFAULT true,
    status              text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (module_id, sequence_no)
);
CREATE INDEX idx_curriculum_components_job_roles ON curriculum_components USING gin (job_role_mapping);

CREATE TABLE curriculum_topics (
    topic_id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    component_id             uuid        NOT NULL REFERENCES curriculum_components (component_id) ON DELETE CASCADE,
    title                    text        NOT NULL,
    description              text,
    sequence_no              integer     NOT NULL CHECK (sequence_no > 0),
    workplace_scenarios      text[]      NOT NULL DEFAULT '{}',
    learning_objectives      text[]      NOT NULL DEFAULT '{}',
    interview_relevance      smallint    NOT NULL DEFAULT 0 CHECK (interview_relevance BETWEEN 0 AND 5),
    common_interview_questions text[]    NOT NULL DEFAULT '{}',
    industry_ids             uuid[]      NOT NULL DEFAULT '{}',
    skill_ids                uuid[]      NOT NULL DEFAULT '{}',
    estimated_minutes        integer     NOT NULL CHECK (estimated_minutes > 0),
    difficulty_level         smallint    NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
    bloom_level              text        CHECK (bloom_level IN ('remember', 'understand', 'apply', 'analyze', 'evaluate', 'create')),
    is_career_critical       boolean     NOT NULL DEFAULT false,
    status                   text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (component_id, sequence_no)
);
CREATE INDEX idx_curriculum_topics_interview_relevance ON curriculum_topics (interview_relevance DESC)
    WHERE interview_relevance >= 3;

CREATE TABLE curriculum_concepts (
    concept_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    topic_id               uuid        NOT NULL REFERENCES curriculum_topics (topic_id) ON DELETE CASCADE,
    name                   text        NOT NULL,
    definition             text,
    sequence_no            integer     NOT NULL CHECK (sequence_no > 0),
    professional_use_cases text[]      NOT NULL DEFAULT '{}',
    industry_examples      text[]      NOT NULL DEFAULT '{}',
    common_misconceptions  text[]      NOT NULL DEFAULT '{}',
    prerequisite_concept_ids uuid[]    NOT NULL DEFAULT '{}',
    skill_id               uuid        REFERENCES skill_taxonomy (skill_id) ON DELETE SET NULL,
    difficulty_level       smallint    NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
    mastery_threshold      numeric(4,3) NOT NULL DEFAULT 0.800 CHECK (mastery_threshold BETWEEN 0 AND 1),
    estimated_minutes      integer     CHECK (estimated_minutes > 0),
    status                 text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic_id, sequence_no)
);
CREATE INDEX idx_curriculum_concepts_skill ON curriculum_concepts (skill_id) WHERE skill_id IS NOT NULL;
