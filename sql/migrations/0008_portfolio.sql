-- sql/migrations/0008_portfolio.sql
--      Portfolio projects (hash-partitioned by learner, 8 partitions) and their multi-stakeholder
--      reviews (mentors, peers, industry experts, employers).
--
-- Showcase readiness: a project becomes showcase_ready when at least two reviews are in, their
-- average overall_score is 80 or more and a mentor or industry expert recommended it; the rule
-- lives only in project_reviews_rollup_statement() (sql/functions/), which keeps review_count, avg_review_score and
-- showcase_ready current as reviews arrive. Projects are upserted on (user_id, project_id), the
-- project_id being chosen by the producing app; reviews are keyed by event_id.

CREATE TABLE user_portfolio_projects (
    user_id             uuid        NOT NULL REFERENCES user_career_profiles (user_id) ON DELETE CASCADE,
    project_id          uuid        NOT NULL,
    event_id            uuid        NOT NULL,
    template_id         uuid        REFERENCES professional_project_templates (template_id) ON DELETE SET NULL,
    title               text        NOT NULL,
    description         text,
    status              text        NOT NULL DEFAULT 'in_progress' CHECK (status IN
                            ('planned', 'in_progress', 'submitted', 'in_review', 'revisions_requested',
                             'completed', 'showcased', 'abandoned')),
    visibility          text        NOT NULL DEFAULT 'mentors' CHECK (visibility IN ('private', 'mentors', 'employers', 'public')),
    industry_id         uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    target_job_roles    text[]      NOT NULL DEFAULT '{}',
    skill_ids           uuid[]      NOT NULL DEFAULT '{}',
    tech_stack          text[]      NOT NULL DEFAULT '{}',
    repository_url      text        CHECK (repository_url ~ '^https://'),
    live_demo_url       text        CHECK (live_demo_url ~ '^https://'),
    started_at          timestamptz,
    submitted_at        timestamptz,
    completed_at        timestamptz,
    hours_spent         numeric(6,1) CHECK (hours_spent >= 0),
    complexity_level    smallint    CHECK (complexity_level BETWEEN 1 AND 5),
    review_count        integer     NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    avg_review_score    numeric(5,2) CHECK (avg_review_score BETWEEN 0 AND 100),
    showcase_ready      boolean     NOT NULL DEFAULT false,
    showcase_ready_at   timestamptz,
    showcase_checklist  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(showcase_checklist) = 'object'),
    employer_view_count integer     NOT NULL DEFAULT 0 CHECK (employer_view_count >= 0),
    is_featured         boolean     NOT NULL DEFAULT false,
    last_event_id       uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, project_id),
    CHECK (NOT showcase_ready OR showcase_ready_at IS NOT NULL),
    CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at)
) PARTITION BY HASH (user_id);
DO $parts$
BEGIN
    FOR i IN 0..7 LOOP
        EXECUTE format('CREATE TABLE user_portfolio_projects_h%s PARTITION OF user_portfolio_projects
                        FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);
    END LOOP;
END
$parts$;
-- Employers and experts browse showcase-ready work by industry.
CREATE INDEX idx_portfolio_showcase_ready ON user_portfolio_projects (industry_id, showcase_ready_at DESC)
    WHERE showcase_ready;

CREATE TABLE project_reviews (
    review_id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id               uuid        UNIQUE,
    project_user_id        uuid        NOT NULL,
    project_id             uuid        NOT NULL,
    reviewer_id            uuid        NOT NULL,
    reviewer_type          text        NOT NULL CHECK (reviewer_type IN ('mentor', 'peer', 'industry_expert', 'employer', 'ai')),
    overall_score          numeric(5,2) NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
    code_quality_score     smallint    CHECK (code_quality_score BETWEEN 1 AND 5),
    design_score           smallint    CHECK (design_score BETWEEN 1 AND 5),
    documentation_score    smallint    CHECK (documentation_score BETWEEN 1 AND 5),
    business_impact_score  smallint    CHECK (business_impact_score BETWEEN 1 AND 5),
    strengths              text,
    improvements           text,
    rubric_scores          jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rubric_scores) = 'object'),
    recommends_showcase    boolean     NOT NULL DEFAULT false,
    submitted_at           timestamptz NOT NULL DEFAULT now(),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (project_user_id, project_id)
        REFERENCES user_portfolio_projects (user_id, project_id) ON DELETE CASCADE,
    CHECK (reviewer_type <> 'peer' OR reviewer_id <> project_user_id)
);
CREATE INDEX idx_project_reviews_project ON project_reviews (project_user_id, project_id);
CREATE INDEX idx_project_reviews_reviewer ON project_reviews (reviewer_id, submitted_at DESC);
