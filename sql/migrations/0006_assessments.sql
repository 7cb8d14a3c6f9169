-- sql/migrations/0006_assessments.sql
--      Assessments with their career-application context, multiple-choice options and coding
--      challenge test cases.

CREATE TABLE assessments (
    assessment_id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    content_id                 uuid        REFERENCES content_chunks (content_id) ON DELETE SET NULL,
    module_id                  uuid        REFERENCES curriculum_modules (module_id) ON DELETE SET NULL,
    skill_id                   uuid        REFERENCES skill_taxonomy (skill_id) ON DELETE SET NULL,
    assessment_type            text        NOT NULL CHECK (assessment_type IN
                                   ('multiple_choice', 'coding_challenge', 'short_answer', 'project',
                                    'behavioral', 'system_design')),
    title                      text        NOT NULL,
    prompt                     text        NOT NULL,
    instructions               text,
    difficulty_level           smallint    NOT NULL DEFAULT 2 CHECK (difficulty_level BETWEEN 1 AND 5),
    max_score                  numeric(6,2) NOT NULL DEFAULT 100 CHECK (max_score > 0),
    passing_score              numeric(6,2) NOT NULL DEFAULT 70 CHECK (passing_score >= 0),
    time_limit_minutes         integer     CHECK (time_limit_minutes BETWEEN 1 AND 600),
    attempts_allowed           smallint    NOT NULL DEFAULT 3 CHECK (attempts_allowed BETWEEN 1 AND 100),
    career_application_context text,
    job_role_tags              text[]      NOT NULL DEFAULT '{}',
    industry_ids               uuid[]      NOT NULL DEFAULT '{}',
    interview_question_type    text        NOT NULL DEFAULT 'none' CHECK (interview_question_type IN
                                   ('technical', 'behavioral', 'case', 'system_design', 'none')),
    is_interview_simulation    boolean     NOT NULL DEFAULT false,
    programming_language       text,
    starter_code               text,
    solution_explanation       text,
    rubric                     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rubric) = 'object'),
    status                     text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'published', 'retired')),
    version                    integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_by                 uuid,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CHECK (passing_score <= max_score),
    CHECK (assessment_type <> 'coding_challenge' OR programming_language IS NOT NULL)
);
CREATE INDEX idx_assessments_module_type ON assessments (module_id, assessment_type);
CREATE INDEX idx_assessments_skill ON assessments (skill_id) WHERE skill_id IS NOT NULL;

CREATE TABLE assessment_options (
    option_id     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    assessment_id uuid        NOT NULL REFERENCES assessments (assessment_id) ON DELETE CASCADE,
    option_order  smallint    NOT NULL CHECK (option_order BETWEEN 1 AND 26),
    option_text   text        NOT NULL,
    is_correct    boolean     NOT NULL DEFAULT false,
    explanation   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (assessment_id, option_order)
);

CREATE TABLE assessment_test_cases (
    test_case_id    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    assessment_id   uuid        NOT NULL REFERENCES assessments (assessment_id) ON DELETE CASCADE,
    case_order      smallint    NOT NULL CHECK (case_order > 0),
    description     text,
    input           text        NOT NULL,
    expected_output text        NOT NULL,
    is_hidden       boolean     NOT NULL DEFAULT false,
    weight          numeric(5,2) NOT NULL DEFAULT 1 CHECK (weight > 0),
    timeout_ms      integer     NOT NULL DEFAULT 2000 CHECK (timeout_ms BETWEEN 1 AND 60000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (assessment_id, case_order)
);
