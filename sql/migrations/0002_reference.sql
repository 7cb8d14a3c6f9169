-- sql/migrations/0002_reference.sql
--      Reference data the rest of the schema points at: personas, industry sectors with their
--      labour-market data, and the skill taxonomy with market demand and value.
--
-- These tables change rarely (content and data teams, cs-seed) and are read by every app and by
-- the matching and readiness workers, so they are not partitioned and carry descriptive indexes.

CREATE TABLE persona_profiles (
    persona_id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    persona_code         text        NOT NULL UNIQUE CHECK (persona_code ~ '^[a-z][a-z0-9_]{2,63}$'),
    name                 text        NOT NULL,
    description          text,
    background_type      text        NOT NULL CHECK (background_type IN
                             ('career_changer', 'recent_graduate', 'returning_to_work',
                              'upskilling_professional', 'military_transition', 'self_taught')),
    career_stage         text        NOT NULL DEFAULT 'exploring' CHECK (career_stage IN
                             ('exploring', 'learning', 'job_ready', 'job_searching', 'transitioned', 'advancing')),
    typical_age_min      smallint    CHECK (typical_age_min BETWEEN 16 AND 90),
    typical_age_max      smallint    CHECK (typical_age_max BETWEEN 16 AND 90),
    prior_industries     text[]      NOT NULL DEFAULT '{}',
    target_roles         text[]      NOT NULL DEFAULT '{}',
    learning_style       text        CHECK (learning_style IN ('visual', 'reading', 'hands_on', 'auditory', 'mixed')),
    motivation_drivers   text[]      NOT NULL DEFAULT '{}',
    common_barriers      text[]      NOT NULL DEFAULT '{}',
    preferred_pace       text        CHECK (preferred_pace IN ('part_time', 'full_time', 'self_paced')),
    avg_weekly_hours     numeric(4,1) CHECK (avg_weekly_hours BETWEEN 0 AND 80),
    tech_comfort_level   smallint    CHECK (tech_comfort_level BETWEEN 1 AND 5),
    financial_runway_months smallint CHECK (financial_runway_months BETWEEN 0 AND 120),
    support_needs        text[]      NOT NULL DEFAULT '{}',
    is_active            boolean     NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (typical_age_min IS NULL OR typical_age_max IS NULL OR typical_age_min <= typical_age_max)
);

-- Industry sectors: salary bands, growth outlook, demand, remote-work statistics, pathways.
CREATE TABLE industry_sectors (
    industry_id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    industry_code        text        NOT NULL UNIQUE CHECK (industry_code ~ '^[a-z][a-z0-9_]{1,63}$'),
    name                 text        NOT NULL UNIQUE,
    description          text,
    parent_industry_id   uuid        REFERENCES industry_sectors (industry_id) ON DELETE SET NULL,
    salary_currency      char(3)     NOT NULL DEFAULT 'USD' CHECK (salary_currency ~ '^[A-Z]{3}$'),
    salary_entry_min     numeric(12,2) CHECK (salary_entry_min >= 0),
    salary_entry_max     numeric(12,2) CHECK (salary_entry_max >= 0),
    salary_median        numeric(12,2) CHECK (salary_median >= 0),
    salary_senior_max    numeric(12,2) CHECK (salary_senior_max >= 0),
    growth_outlook       text        NOT NULL DEFAULT 'stable' CHECK (growth_outlook IN
                             ('declining', 'stable', 'growing', 'rapid_growth')),
    projected_growth_pct numeric(6,2) CHECK (projected_growth_pct BETWEEN -100 AND 1000),
    annual_job_openings  integer     CHECK (annual_job_openings >= 0),
    demand_index         numeric(5,2) CHECK (demand_index BETWEEN 0 AND 100),
    remote_work_pct      numeric(5,2) CHECK (remote_work_pct BETWEEN 0 AND 100),
    hybrid_work_pct      numeric(5,2) CHECK (hybrid_work_pct BETWEEN 0 AND 100),
    required_skills      text[]      NOT NULL DEFAULT '{}',
    career_pathways      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(career_pathways) = 'array'),
    success_factors      text[]      NOT NULL DEFAULT '{}',
    avg_time_to_hire_days integer    CHECK (avg_time_to_hire_days >= 0),
    data_source          text,
    data_as_of           date,
    is_active            boolean     NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (salary_entry_min IS NULL OR salary_entry_max IS NULL OR salary_entry_min <= salary_entry_max),
    CHECK (salary_median IS NULL OR salary_senior_max IS NULL OR salary_median <= salary_senior_max),
    CHECK (coalesce(remote_work_pct, 0) + coalesce(hybrid_work_pct, 0) <= 100)
);
CREATE INDEX idx_industry_sectors_parent ON industry_sectors (parent_industry_id)
    WHERE parent_industry_id IS NOT NULL;
CREATE INDEX idx_industry_sectors_growth_demand ON industry_sectors (growth_outlook, demand_index DESC);
CREATE INDEX idx_industry_sectors_required_skills ON industry_sectors USING gin (required_skills);

-- Skill taxonomy: a tree of skills with market demand and value.
CREATE TABLE skill_taxonomy (
    skill_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    skill_code           text        NOT NULL UNIQUE CHECK (skill_code ~ '^[a-z][a-z0-9_.+#-]{0,63}$'),
    name                 text        NOT NULL,
    description          text,
    parent_skill_id      uuid        REFERENCES skill_taxonomy (skill_id) ON DELETE SET NULL,
    category             text        NOT NULL CHECK (category IN
                             ('programming', 'data', 'cloud', 'devops', 'security', 'design',
                              'product', 'soft_skill', 'domain', 'tooling')),
    skill_type           text        NOT NULL DEFAULT 'technical' CHECK (skill_type IN ('technical', 'soft', 'domain', 'tool')),
    depth                smallint    NOT NULL DEFAULT 0 CHECK (depth BETWEEN 0 AND 10),
    industry_demand_score numeric(5,2) CHECK (industry_demand_score BETWEEN 0 AND 100),
    market_value_usd     numeric(12,2) CHECK (market_value_usd >= 0),
    demand_trend         text        NOT NULL DEFAULT 'stable' CHECK (demand_trend IN ('declining', 'stable', 'rising', 'hot')),
    related_industries   uuid[]      NOT NULL DEFAULT '{}',
    related_roles        text[]      NOT NULL DEFAULT '{}',
    prerequisite_skill_ids uuid[]    NOT NULL DEFAULT '{}',
    typical_hours_to_learn integer   CHECK (typical_hours_to_learn BETWEEN 0 AND 10000),
    certification_names  text[]      NOT NULL DEFAULT '{}',
    is_active            boolean     NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_skill_taxonomy_parent ON skill_taxonomy (parent_skill_id) WHERE parent_skill_id IS NOT NULL;
CREATE INDEX idx_skill_taxonomy_category_demand ON skill_taxonomy (category, industry_demand_score DESC);
CREATE INDEX idx_skill_taxonomy_related_industries ON skill_taxonomy USING gin (related_industries);
