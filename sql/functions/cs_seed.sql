-- sql/functions/cs_seed.sql
--      cs_seed(scale): deterministic, realistic reference data for demos and benchmarks.
--
-- Called by cs-seed (tools/seed.c) or directly: SELECT cs_seed(1). Scale 1 gives 16 industries
-- with salary bands, 8 personas, a 60-skill taxonomy, a curriculum of 8 tracks (48 modules > 192
-- components > 576 topics > 1,728 concepts, 3,456 content chunks), assessments, templates, case
-- studies, avatar roles, embedding models, 1,000 mentors, 10,000 learner profiles and 3,000
-- active mentorships; scale N multiplies mentors, learners and mentorships by N.
-- Everything is derived from md5 of a fixed key, so every run and every machine produce the same
-- rows, and a second run adds nothing (ON CONFLICT DO NOTHING). The ids other tools reproduce:
--     learner n (1..10000*scale):  user_id   = md5('learner-' || n)::uuid
--     mentor m  (1..1000*scale):   mentor_id = md5('mentor-' || m)::uuid
--     content chunk c (1..3456):   content_id = md5('content-' || c)::uuid
--     module k (1..48):            module_id = md5('module-' || k)::uuid
--     skill by code:               skill_id  = md5('skill-' || code)::uuid
--     industry by code:            industry_id = md5('industry-' || code)::uuid
-- Learners 1..3000*scale have an active mentor: mentor ((n - 1) / 3) + 1 for every scale
-- (learners 3m-2 .. 3m are mentor m's mentees, the same rows at any scale), so that a larger scale
-- can be seeded over a smaller one: a scale-dependent mapping sent the new learners to mentors
-- who already had their 3 mentees, and they refused them (CS003).
--
-- depends: cs_seed_rand

CREATE OR REPLACE FUNCTION cs_seed(scale integer DEFAULT 1) RETURNS jsonb
    LANGUAGE plpgsql
AS $$
DECLARE
    n_mentors integer := 1000 * scale;
    n_learners integer := 10000 * scale;
    n_mentored integer := 3000 * scale;
    tracks constant text[] := ARRAY['software_engineering', 'data_analytics', 'data_science', 'cloud_devops',
                                    'cybersecurity', 'ux_design', 'product_management', 'career_skills'];
    track_codes constant text[] := ARRAY['SWE', 'DA', 'DS', 'CLD', 'SEC', 'UX', 'PM', 'CAR'];
    stages constant text[] := ARRAY['exploring', 'learning', 'learning', 'learning', 'job_ready', 'job_searching',
                                    'transitioned', 'advancing'];
    tzs constant text[] := ARRAY['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles',
                                 'Europe/London', 'Europe/Berlin', 'Europe/Warsaw', 'Asia/Kolkata',
                                 'Asia/Singapore', 'Australia/Sydney', 'America/Sao_Paulo', 'Africa/Lagos'];
    tz_offsets constant int[] := ARRAY[-300, -360, -420, -480, 0, 60, 60, 330, 480, 600, -180, 60];
    countries constant text[] := ARRAY['US', 'US', 'US', 'US', 'GB', 'DE', 'PL', 'IN', 'SG', 'AU', 'BR', 'NG'];
    first_names constant text[] := ARRAY['Alex', 'Sam', 'Jordan', 'Priya', 'Chen', 'Maria', 'Olu', 'Fatima', 'Lukas',
                                         'Aiko', 'Diego', 'Hannah', 'Kwame', 'Sofia', 'Ravi', 'Emma', 'Noah',
                                         'Zara', 'Mateo', 'Leila'];
    last_names constant text[] := ARRAY['Smith', 'Garcia', 'Nguyen', 'Patel', 'Kowalski', 'Okafor', 'Müller',
                                        'Tanaka', 'Silva', 'Johnson', 'Ahmed', 'Rossi', 'Kim', 'Cohen', 'Brown',
                                        'Singh', 'Lopez', 'Novak', 'Mensah', 'Larsen'];
    result jsonb;
BEGIN
    IF scale IS NULL OR scale < 1 OR scale > 1000 THEN
        RAISE EXCEPTION 'cs_seed: scale must be between 1 and 1000, got %', scale USING ERRCODE = '22023';
    END IF;

    -- Industries with salary bands (USD), growth outlook, demand and remote-work statistics.
    INSERT INTO industry_sectors (industry_id, industry_code, name, description, salary_entry_min, salary_entry_max,
                                  salary_median, salary_senior_max, growth_outlook, projected_growth_pct,
                                  annual_job_openings, demand_index, remote_work_pct, hybrid_work_pct,
                                  required_skills, career_pathways, success_factors, avg_time_to_hire_days,
                                  data_source, data_as_of)
    SELECT md5('industry-' || v.code)::uuid, v.code, v.name, v.name || ' roles for career changers',
           v.emin, v.emax, v.med, v.smax, v.outlook, v.growth, v.openings, v.demand, v.remote, v.hybrid,
           v.skills, jsonb_build_array(jsonb_build_object('from', 'entry', 'to', 'mid', 'typical_years', 2),
                                       jsonb_build_object('from', 'mid', 'to', 'senior', 'typical_years', 4)),
           ARRAY['portfolio of shipped projects', 'networking', 'continuous learning'], v.hire_days,
           'careerstream seed (BLS-like bands)', date '2026-01-01'
      FROM (VALUES
        ('software_development', 'Software Development', 70000, 95000, 127000, 215000, 'rapid_growth', 25.0, 162900, 92, 38, 41, ARRAY['python', 'javascript', 'git', 'sql'], 42),
        ('data_analytics', 'Data & Analytics', 60000, 82000, 101000, 165000, 'growing', 23.0, 108400, 88, 35, 42, ARRAY['sql', 'excel', 'tableau', 'python'], 38),
        ('ai_ml', 'AI & Machine Learning', 90000, 120000, 155000, 285000, 'rapid_growth', 35.0, 41200, 95, 33, 45, ARRAY['python', 'machine_learning', 'statistics'], 55),
        ('cybersecurity', 'Cybersecurity', 75000, 98000, 120000, 205000, 'rapid_growth', 32.0, 16800, 90, 30, 45, ARRAY['networking', 'linux', 'security_fundamentals'], 48),
        ('cloud_infrastructure', 'Cloud & Infrastructure', 72000, 96000, 128000, 210000, 'rapid_growth', 21.0, 52300, 89, 40, 40, ARRAY['aws', 'linux', 'terraform'], 45),
        ('devops_sre', 'DevOps & Site Reliability', 78000, 100000, 135000, 220000, 'growing', 18.0, 31100, 86, 42, 38, ARRAY['docker', 'kubernetes', 'ci_cd'], 44),
        ('ux_design', 'UX & Product Design', 58000, 78000, 98000, 160000, 'growing', 16.0, 23900, 72, 36, 44, ARRAY['user_research', 'figma', 'prototyping'], 40),
        ('product_management', 'Product Management', 80000, 105000, 135000, 230000, 'growing', 10.0, 28700, 75, 30, 50, ARRAY['product_strategy', 'communication', 'data_literacy'], 50),
        ('fintech', 'Financial Technology', 75000, 100000, 130000, 225000, 'growing', 15.0, 19400, 80, 28, 52, ARRAY['python', 'sql', 'security_fundamentals'], 47),
        ('healthtech', 'Health Technology', 65000, 88000, 112000, 185000, 'growing', 17.0, 15200, 78, 26, 48, ARRAY['sql', 'data_privacy', 'python'], 52),
        ('edtech', 'Education Technology', 55000, 74000, 92000, 150000, 'stable', 8.0, 9800, 60, 45, 35, ARRAY['javascript', 'user_research'], 41),
        ('ecommerce', 'E-commerce & Retail Tech', 62000, 84000, 105000, 175000, 'growing', 12.0, 21300, 74, 32, 43, ARRAY['javascript', 'sql', 'analytics'], 39),
        ('gaming', 'Games & Interactive Media', 55000, 72000, 95000, 170000, 'stable', 7.0, 8200, 58, 25, 40, ARRAY['csharp', 'cpp', 'git'], 60),
        ('it_support', 'IT Support & Operations', 42000, 58000, 62000, 98000, 'stable', 6.0, 62400, 65, 20, 35, ARRAY['networking', 'linux', 'communication'], 30),
        ('digital_marketing', 'Marketing Technology', 52000, 70000, 88000, 150000, 'stable', 9.0, 14600, 62, 40, 40, ARRAY['analytics', 'sql', 'communication'], 36),
        ('govtech', 'Public Sector Technology', 58000, 76000, 94000, 150000, 'stable', 5.0, 11900, 55, 22, 50, ARRAY['security_fundamentals', 'sql', 'accessibility'], 75)
      ) AS v(code, name, emin, emax, med, smax, outlook, growth, openings, demand, remote, hybrid, skills, hire_days)
    ON CONFLICT DO NOTHING;

    -- Skill taxonomy: category roots and leaf skills with demand and market value.
    INSERT INTO skill_taxonomy (skill_id, skill_code, name, category, skill_type, depth, industry_demand_score,
                                market_value_usd, demand_trend, typical_hours_to_learn)
    SELECT md5('skill-' || c)::uuid, c, initcap(replace(c, '_', ' ')), c, 'technical', 0, 70, NULL, 'stable', NULL
      FROM unnest(ARRAY['programming', 'data', 'cloud', 'devops', 'security', 'design', 'product', 'soft_skill',
                        'domain', 'tooling']) AS c
    ON CONFLICT DO NOTHING;
    INSERT INTO skill_taxonomy (skill_id, skill_code, name, parent_skill_id, category, skill_type, depth,
                                industry_demand_score, market_value_usd, demand_trend, related_industries,
                                related_roles, typical_hours_to_learn, certification_names)
    SELECT md5('skill-' || v.code)::uuid, v.code, v.name, md5('skill-' || v.cat)::uuid, v.cat,
           CASE v.cat WHEN 'soft_skill' THEN 'soft' WHEN 'domain' THEN 'domain' WHEN 'tooling' THEN 'tool' ELSE 'technical' END,
           1, v.demand, v.value, v.trend,
           ARRAY(SELECT i.industry_id FROM industry_sectors i WHERE v.code = ANY (i.required_skills) ORDER BY i.industry_code),
           v.roles, v.hours, v.certs
      FROM (VALUES
        ('python', 'Python', 'programming', 95, 12000, 'hot', ARRAY['backend_engineer', 'data_analyst', 'ml_engineer'], 120, ARRAY['PCEP']),
        ('javascript', 'JavaScript', 'programming', 92, 11000, 'rising', ARRAY['frontend_engineer', 'fullstack_engineer'], 120, ARRAY[]::text[]),
        ('typescript', 'TypeScript', 'programming', 88, 11500, 'rising', ARRAY['frontend_engineer', 'fullstack_engineer'], 60, ARRAY[]::text[]),
        ('java', 'Java', 'programming', 80, 10500, 'stable', ARRAY['backend_engineer'], 150, ARRAY['OCP Java']),
        ('csharp', 'C#', 'programming', 72, 10000, 'stable', ARRAY['backend_engineer', 'game_developer'], 150, ARRAY[]::text[]),
        ('cpp', 'C++', 'programming', 65, 11000, 'stable', ARRAY['game_developer', 'systems_engineer'], 200, ARRAY[]::text[]),
        ('go', 'Go', 'programming', 78, 13000, 'rising', ARRAY['backend_engineer', 'sre'], 80, ARRAY[]::text[]),
        ('sql', 'SQL', 'data', 94, 9000, 'stable', ARRAY['data_analyst', 'backend_engineer'], 60, ARRAY[]::text[]),
        ('excel', 'Spreadsheet Modelling', 'data', 70, 4000, 'declining', ARRAY['data_analyst'], 30, ARRAY[]::text[]),
        ('tableau', 'Tableau', 'data', 68, 6000, 'stable', ARRAY['data_analyst', 'bi_analyst'], 40, ARRAY['Tableau Desktop Specialist']),
        ('statistics', 'Statistics', 'data', 80, 9000, 'stable', ARRAY['data_scientist', 'data_analyst'], 100, ARRAY[]::text[]),
        ('machine_learning', 'Machine Learning', 'data', 90, 18000, 'hot', ARRAY['ml_engineer', 'data_scientist'], 200, ARRAY[]::text[]),
        ('analytics', 'Product Analytics', 'data', 74, 7000, 'rising', ARRAY['data_analyst', 'product_manager'], 50, ARRAY[]::text[]),
        ('data_literacy', 'Data Literacy', 'data', 70, 5000, 'rising', ARRAY['product_manager'], 20, ARRAY[]::text[]),
        ('aws', 'AWS', 'cloud', 91, 15000, 'hot', ARRAY['cloud_engineer', 'sre'], 120, ARRAY['AWS Solutions Architect Associate']),
        ('azure', 'Azure', 'cloud', 82, 14000, 'rising', ARRAY['cloud_engineer'], 120, ARRAY['AZ-104']),
        ('gcp', 'Google Cloud', 'cloud', 75, 14000, 'rising', ARRAY['cloud_engineer'], 120, ARRAY['Associate Cloud Engineer']),
        ('terraform', 'Terraform', 'devops', 80, 12000, 'rising', ARRAY['cloud_engineer', 'devops_engineer'], 40, ARRAY['Terraform Associate']),
        ('docker', 'Docker', 'devops', 85, 9000, 'stable', ARRAY['devops_engineer', 'backend_engineer'], 30, ARRAY[]::text[]),
        ('kubernetes', 'Kubernetes', 'devops', 86, 16000, 'hot', ARRAY['devops_engineer', 'sre'], 80, ARRAY['CKA']),
        ('ci_cd', 'CI/CD Pipelines', 'devops', 82, 8000, 'stable', ARRAY['devops_engineer'], 30, ARRAY[]::text[]),
        ('linux', 'Linux Administration', 'devops', 84, 8000, 'stable', ARRAY['sre', 'security_analyst', 'it_support'], 80, ARRAY['LFCS']),
        ('networking', 'Networking', 'security', 78, 7000, 'stable', ARRAY['security_analyst', 'it_support'], 80, ARRAY['CompTIA Network+']),
        ('security_fundamentals', 'Security Fundamentals', 'security', 88, 11000, 'hot', ARRAY['security_analyst'], 100, ARRAY['CompTIA Security+']),
        ('incident_response', 'Incident Response', 'security', 80, 13000, 'rising', ARRAY['security_analyst', 'sre'], 60, ARRAY[]::text[]),
        ('data_privacy', 'Data Privacy & GDPR', 'security', 72, 9000, 'rising', ARRAY['security_analyst', 'product_manager'], 30, ARRAY['CIPP/E']),
        ('user_research', 'User Research', 'design', 76, 8000, 'stable', ARRAY['ux_designer', 'product_manager'], 60, ARRAY[]::text[]),
        ('figma', 'Figma', 'design', 80, 7000, 'rising', ARRAY['ux_designer'], 30, ARRAY[]::text[]),
        ('prototyping', 'Prototyping', 'design', 74, 6000, 'stable', ARRAY['ux_designer'], 40, ARRAY[]::text[]),
        ('accessibility', 'Accessibility (WCAG)', 'design', 70, 7000, 'rising', ARRAY['ux_designer', 'frontend_engineer'], 30, ARRAY['CPACC']),
        ('product_strategy', 'Product Strategy', 'product', 78, 14000, 'stable', ARRAY['product_manager'], 80, ARRAY[]::text[]),
        ('agile', 'Agile Delivery', 'product', 75, 6000, 'stable', ARRAY['product_manager', 'scrum_master'], 20, ARRAY['PSM I']),
        ('communication', 'Professional Communication', 'soft_skill', 90, 5000, 'stable', ARRAY['all'], 40, ARRAY[]::text[]),
        ('stakeholder_management', 'Stakeholder Management', 'soft_skill', 78, 6000, 'stable', ARRAY['product_manager'], 30, ARRAY[]::text[]),
        ('technical_interviewing', 'Technical Interviewing', 'soft_skill', 85, 8000, 'stable', ARRAY['all'], 40, ARRAY[]::text[]),
        ('networking_professional', 'Professional Networking', 'soft_skill', 80, 5000, 'stable', ARRAY['all'], 20, ARRAY[]::text[]),
        ('git', 'Git', 'tooling', 90, 4000, 'stable', ARRAY['backend_engineer', 'frontend_engineer'], 15, ARRAY[]::text[]),
        ('rest_apis', 'REST API Design', 'programming', 86, 9000, 'stable', ARRAY['backend_engineer'], 40, ARRAY[]::text[]),
        ('react', 'React', 'programming', 88, 12000, 'stable', ARRAY['frontend_engineer'], 80, ARRAY[]::text[]),
        ('testing', 'Automated Testing', 'tooling', 80, 7000, 'stable', ARRAY['backend_engineer', 'qa_engineer'], 40, ARRAY['ISTQB']),
        ('observability', 'Observability', 'devops', 76, 10000, 'rising', ARRAY['sre'], 40, ARRAY[]::text[]),
        ('finance_domain', 'Financial Services Domain', 'domain', 65, 8000, 'stable', ARRAY['backend_engineer', 'data_analyst'], 60, ARRAY[]::text[]),
        ('healthcare_domain', 'Healthcare Domain', 'domain', 62, 7000, 'stable', ARRAY['data_analyst'], 60, ARRAY[]::text[]),
        ('system_design', 'System Design', 'programming', 84, 16000, 'rising', ARRAY['backend_engineer', 'sre'], 100, ARRAY[]::text[]),
        ('data_visualization', 'Data Visualization', 'data', 76, 7000, 'stable', ARRAY['data_analyst'], 40, ARRAY[]::text[]),
        ('etl', 'Data Pipelines (ETL)', 'data', 82, 12000, 'rising', ARRAY['data_engineer'], 80, ARRAY[]::text[]),
        ('nosql', 'NoSQL Databases', 'data', 70, 8000, 'stable', ARRAY['backend_engineer'], 40, ARRAY[]::text[]),
        ('mobile_dev', 'Mobile Development', 'programming', 74, 12000, 'stable', ARRAY['mobile_engineer'], 150, ARRAY[]::text[]),
        ('prompt_engineering', 'Prompt Engineering', 'programming', 80, 10000, 'hot', ARRAY['ml_engineer', 'product_manager'], 20, ARRAY[]::text[]),
        ('project_management', 'Project Management', 'product', 72, 7000, 'stable', ARRAY['product_manager'], 40, ARRAY['CAPM'])
      ) AS v(code, name, cat, demand, value, trend, roles, hours, certs)
    ON CONFLICT DO NOTHING;

    -- Personas.
    INSERT INTO persona_profiles (persona_id, persona_code, name, description, background_type, career_stage,
                                  typical_age_min, typical_age_max, prior_industries, target_roles, learning_style,
                                  motivation_drivers, common_barriers, preferred_pace, avg_weekly_hours,
                                  tech_comfort_level, financial_runway_months, support_needs)
    SELECT md5('persona-' || v.code)::uuid, v.code, v.name, v.descr, v.bg, v.stage, v.amin, v.amax, v.prior, v.roles,
           v.style, v.motiv, v.barriers, v.pace, v.hours, v.comfort, v.runway, v.needs
      FROM (VALUES
        ('teacher_to_tech', 'Teacher moving into tech', 'Educator with strong communication skills', 'career_changer', 'learning', 26, 45,
         ARRAY['education'], ARRAY['ux_designer', 'data_analyst'], 'reading', ARRAY['salary', 'growth'], ARRAY['time', 'confidence'], 'part_time', 12.0, 2, 6, ARRAY['mentorship']),
        ('retail_manager', 'Retail manager', 'Operations manager used to targets and people', 'career_changer', 'exploring', 28, 50,
         ARRAY['retail'], ARRAY['product_manager', 'data_analyst'], 'hands_on', ARRAY['work_life_balance'], ARRAY['time', 'finances'], 'part_time', 10.0, 2, 4, ARRAY['flexible_schedule']),
        ('veteran', 'Military veteran', 'Service member transitioning to civilian tech', 'military_transition', 'learning', 22, 45,
         ARRAY['defense'], ARRAY['security_analyst', 'cloud_engineer'], 'hands_on', ARRAY['mission', 'stability'], ARRAY['translating_experience'], 'full_time', 35.0, 3, 12, ARRAY['resume_translation']),
        ('returning_parent', 'Returning parent', 'Professional returning after a career break', 'returning_to_work', 'learning', 30, 50,
         ARRAY['finance', 'marketing'], ARRAY['data_analyst', 'ux_designer'], 'mixed', ARRAY['independence'], ARRAY['childcare', 'outdated_skills'], 'self_paced', 8.0, 3, 9, ARRAY['flexible_schedule', 'confidence_building']),
        ('career_switch_engineer', 'Engineer from another field', 'Mechanical or civil engineer moving to software', 'career_changer', 'job_ready', 25, 45,
         ARRAY['manufacturing', 'construction'], ARRAY['backend_engineer', 'data_engineer'], 'hands_on', ARRAY['salary', 'remote_work'], ARRAY['portfolio'], 'part_time', 15.0, 4, 8, ARRAY['portfolio_review']),
        ('recent_graduate', 'Non-CS graduate', 'Graduate of a non-technical degree', 'recent_graduate', 'learning', 21, 27,
         ARRAY[]::text[], ARRAY['frontend_engineer', 'data_analyst'], 'visual', ARRAY['first_job'], ARRAY['no_experience'], 'full_time', 30.0, 4, 6, ARRAY['interview_prep']),
        ('healthcare_worker', 'Healthcare worker', 'Nurse or technician moving to health tech', 'career_changer', 'exploring', 25, 50,
         ARRAY['healthcare'], ARRAY['data_analyst', 'product_manager'], 'reading', ARRAY['burnout', 'impact'], ARRAY['shift_work'], 'part_time', 8.0, 2, 6, ARRAY['flexible_schedule']),
        ('self_taught_upskiller', 'Self-taught upskiller', 'Already codes a little, wants a real job', 'self_taught', 'job_searching', 20, 40,
         ARRAY['hospitality', 'logistics'], ARRAY['fullstack_engineer'], 'hands_on', ARRAY['salary'], ARRAY['credibility'], 'part_time', 18.0, 4, 3, ARRAY['networking', 'interview_prep'])
      ) AS v(code, name, descr, bg, stage, amin, amax, prior, roles, style, motiv, barriers, pace, hours, comfort, runway, needs)
    ON CONFLICT DO NOTHING;

    -- AI avatar roles and embedding models.
    INSERT INTO ai_avatar_roles (avatar_role_id, role_code, name, description, system_prompt, coaching_capabilities,
                                 supported_interview_types, tone, model_name, temperature, max_session_minutes)
    SELECT md5('avatar-' || v.code)::uuid, v.code, v.name, v.name || ' for career changers',
           'You are a ' || v.name || '. Help the learner move into tech.', v.caps, v.itypes, v.tone, 'cs-coach-2026', v.temp, v.mins
      FROM (VALUES
        ('interview_coach', 'Interview coach', ARRAY['mock_interview', 'motivation'], ARRAY['technical', 'behavioral'], 'direct', 0.4, 60),
        ('career_planner', 'Career planner', ARRAY['career_planning', 'networking'], ARRAY[]::text[], 'encouraging', 0.7, 45),
        ('resume_reviewer', 'Resume reviewer', ARRAY['resume_review'], ARRAY[]::text[], 'professional', 0.3, 30),
        ('code_mentor', 'Code mentor', ARRAY['code_review', 'concept_tutoring'], ARRAY['technical', 'system_design'], 'socratic', 0.5, 60),
        ('negotiation_coach', 'Salary negotiation coach', ARRAY['salary_negotiation'], ARRAY['hr_screen'], 'direct', 0.4, 30),
        ('motivation_buddy', 'Motivation buddy', ARRAY['motivation', 'career_planning'], ARRAY[]::text[], 'encouraging', 0.9, 20)
      ) AS v(code, name, caps, itypes, tone, temp, mins)
    ON CONFLICT DO NOTHING;
    INSERT INTO embedding_models (model_id, model_name, provider, model_version, dimensions, is_career_optimized,
                                  supports_industry_context, supports_job_role_vectors, cost_per_1k_tokens_usd,
                                  avg_latency_ms, is_default)
    VALUES (md5('model-minilm')::uuid, 'all-MiniLM-L6-v2', 'sentence-transformers', '2', 384, false, false, false, 0, 8, false),
           (md5('model-career')::uuid, 'cs-career-embed', 'careerstream', '1', 384, true, true, true, 0.00002, 15, true)
    ON CONFLICT DO NOTHING;

    -- Curriculum: 8 tracks x 6 modules > 4 components > 3 topics > 3 concepts > 2 content chunks.
    INSERT INTO curriculum_modules (module_id, module_code, title, description, sequence_no, track, career_stage_alignment,
                                    difficulty_level, estimated_hours, industry_applications, target_job_roles,
                                    learning_objectives, skill_ids, portfolio_outcome, is_career_critical, status, published_at)
    SELECT md5('module-' || k)::uuid, track_codes[t] || '-' || (100 + m), initcap(replace(tracks[t], '_', ' ')) || ' ' ||
               (ARRAY['Foundations', 'Core Practice', 'Applied Projects', 'Professional Tooling', 'Portfolio Capstone', 'Interview & Job Search'])[m],
           'Module ' || m || ' of the ' || replace(tracks[t], '_', ' ') || ' track', m, tracks[t],
           (ARRAY['exploring', 'learning', 'learning', 'job_ready', 'job_ready', 'job_searching'])[m], least(5, 1 + (m - 1) * 4 / 5),
           20 + 5 * m,
           ARRAY(SELECT i.industry_id FROM industry_sectors i ORDER BY cs_seed_rand('mod-ind-' || k || i.industry_code) LIMIT 3),
           ARRAY[tracks[t] || '_practitioner'], ARRAY['understand the fundamentals', 'build a portfolio piece'],
           ARRAY(SELECT s.skill_id FROM skill_taxonomy s WHERE s.depth = 1 ORDER BY cs_seed_rand('mod-skill-' || k || s.skill_code) LIMIT 4),
           CASE WHEN m = 5 THEN 'capstone project' END, m IN (1, 5, 6), 'published', timestamptz '2026-01-15 00:00+00'
      FROM generate_series(1, 8) t, generate_series(1, 6) m, LATERAL (SELECT (t - 1) * 6 + m AS k) kk
    ON CONFLICT DO NOTHING;
    INSERT INTO curriculum_components (component_id, module_id, title, description, sequence_no, component_type,
                                       job_role_mapping, job_task_examples, estimated_minutes, difficulty_level, skill_ids, status)
    SELECT md5('component-' || k || '-' || c)::uuid, md5('module-' || k)::uuid, mo.title || ' part ' || c, NULL, c,
           (ARRAY['lesson', 'lab', 'case_study', 'project'])[c], mo.target_job_roles,
           ARRAY['a task a junior does in week one'], 60 * c, mo.difficulty_level, mo.skill_ids, 'published'
      FROM generate_series(1, 48) k
      JOIN curriculum_modules mo ON mo.module_id = md5('module-' || k)::uuid
     CROSS JOIN generate_series(1, 4) c
    ON CONFLICT DO NOTHING;
    INSERT INTO curriculum_topics (topic_id, component_id, title, sequence_no, workplace_scenarios, interview_relevance,
                                   common_interview_questions, industry_ids, skill_ids, estimated_minutes, difficulty_level,
                                   bloom_level, is_career_critical, status)
    SELECT md5('topic-' || k || '-' || c || '-' || tp)::uuid, md5('component-' || k || '-' || c)::uuid,
           'Topic ' || k || '.' || c || '.' || tp, tp, ARRAY['stand-up update', 'code review'],
           (cs_seed_rand('topic-int-' || k || c || tp) * 6)::int % 6,
           ARRAY['Explain this to a non-technical stakeholder'],
           mo.industry_applications, mo.skill_ids, 30, mo.difficulty_level,
           (ARRAY['understand', 'apply', 'analyze'])[tp], tp = 1, 'published'
      FROM generate_series(1, 48) k
      JOIN curriculum_modules mo ON mo.module_id = md5('module-' || k)::uuid
     CROSS JOIN generate_series(1, 4) c CROSS JOIN generate_series(1, 3) tp
    ON CONFLICT DO NOTHING;
    INSERT INTO curriculum_concepts (concept_id, topic_id, name, definition, sequence_no, professional_use_cases,
                                     industry_examples, skill_id, difficulty_level, estimated_minutes, status)
    SELECT md5('concept-' || k || '-' || c || '-' || tp || '-' || cp)::uuid, md5('topic-' || k || '-' || c || '-' || tp)::uuid,
           'Concept ' || k || '.' || c || '.' || tp || '.' || cp, 'What it is and why teams use it', cp,
           ARRAY['used when shipping features safely'], ARRAY['a bank reconciles payments nightly'],
           mo.skill_ids[1 + (cp - 1) % greatest(cardinality(mo.skill_ids), 1)], mo.difficulty_level, 10, 'published'
      FROM generate_series(1, 48) k
      JOIN curriculum_modules mo ON mo.module_id = md5('module-' || k)::uuid
     CROSS JOIN generate_series(1, 4) c CROSS JOIN generate_series(1, 3) tp CROSS JOIN generate_series(1, 3) cp
    ON CONFLICT DO NOTHING;
    -- Content chunk c = ((((k-1)*4 + c-1)*3 + tp-1)*3 + cp-1)*2 + j, 1..3456.
    INSERT INTO content_chunks (content_id, module_id, topic_id, concept_id, content_type, title, summary, body, sequence_no,
                                difficulty_level, estimated_minutes, industry_relevance, job_role_tags, skill_ids,
                                career_stage_tags, interview_relevance, workplace_applicability, is_career_critical,
                                employer_validated, expert_review_status, validated_at, status, published_at)
    SELECT md5('content-' || n)::uuid, md5('module-' || k)::uuid, md5('topic-' || k || '-' || c || '-' || tp)::uuid,
           md5('concept-' || k || '-' || c || '-' || tp || '-' || cp)::uuid,
           (ARRAY['explanation', 'example', 'exercise', 'quiz', 'case_study', 'interview_prep', 'career_coaching',
                  'industry_insight'])[1 + (n % 8)],
           'Content ' || n || ': ' || mo.title, 'A short, practical piece of ' || mo.title,
           'Worked explanation ' || n || ' for ' || mo.title || '. It ties the concept to day-to-day work in '
               || replace(mo.track, '_', ' ') || ' and to the questions interviewers ask about it.',
           (c - 1) * 18 + (tp - 1) * 6 + (cp - 1) * 2 + j, mo.difficulty_level, 5 + (n % 4) * 5,
           mo.industry_applications, mo.target_job_roles, mo.skill_ids, ARRAY[mo.career_stage_alignment],
           (n % 6)::smallint, (n % 5 + 1)::smallint, mo.is_career_critical AND j = 1,
           n % 7 = 0, CASE WHEN n % 3 = 0 THEN 'approved' ELSE 'pending' END,
           CASE WHEN n % 3 = 0 THEN timestamptz '2026-02-01 00:00+00' END, 'published', timestamptz '2026-01-15 00:00+00'
      FROM generate_series(1, 48) k
      JOIN curriculum_modules mo ON mo.module_id = md5('module-' || k)::uuid
     CROSS JOIN generate_series(1, 4) c CROSS JOIN generate_series(1, 3) tp CROSS JOIN generate_series(1, 3) cp
     CROSS JOIN generate_series(1, 2) j
     CROSS JOIN LATERAL (SELECT ((((k - 1) * 4 + c - 1) * 3 + tp - 1) * 3 + cp - 1) * 2 + j AS n) nn
    ON CONFLICT DO NOTHING;

    -- Assessments (2 per module), their options and coding test cases.
    INSERT INTO assessments (assessment_id, content_id, module_id, skill_id, assessment_type, title, prompt, difficulty_level,
                             max_score, passing_score, time_limit_minutes, career_application_context, job_role_tags,
                             interview_question_type, is_interview_simulation, programming_language, status)
    SELECT md5('assessment-' || k || '-' || a)::uuid, md5('content-' || ((k - 1) * 72 + 1))::uuid, mo.module_id, mo.skill_ids[1],
           CASE a WHEN 1 THEN 'multiple_choice' ELSE 'coding_challenge' END,
           mo.title || CASE a WHEN 1 THEN ' check' ELSE ' challenge' END, 'Answer as you would at work.',
           mo.difficulty_level, 100, 70, 30 * a, 'Asked in junior ' || replace(mo.track, '_', ' ') || ' interviews',
           mo.target_job_roles, CASE a WHEN 1 THEN 'technical' ELSE 'system_design' END, a = 2,
           CASE a WHEN 2 THEN 'python' END, 'published'
      FROM generate_series(1, 48) k
      JOIN curriculum_modules mo ON mo.module_id = md5('module-' || k)::uuid
     CROSS JOIN generate_series(1, 2) a
    ON CONFLICT DO NOTHING;
    INSERT INTO assessment_options (option_id, assessment_id, option_order, option_text, is_correct, explanation)
    SELECT md5('option-' || k || '-' || o)::uuid, md5('assessment-' || k || '-1')::uuid, o, 'Option ' || chr(64 + o),
           o = 1 + k % 4, CASE WHEN o = 1 + k % 4 THEN 'This is what teams do in practice.' END
      FROM generate_series(1, 48) k CROSS JOIN generate_series(1, 4) o
    ON CONFLICT DO NOTHING;
    INSERT INTO assessment_test_cases (test_case_id, assessment_id, case_order, description, input, expected_output, is_hidden, weight)
    SELECT md5('testcase-' || k || '-' || tc)::uuid, md5('assessment-' || k || '-2')::uuid, tc, 'case ' || tc,
           tc::text, (tc * tc)::text, tc = 3, CASE tc WHEN 3 THEN 2 ELSE 1 END
      FROM generate_series(1, 48) k CROSS JOIN generate_series(1, 3) tc
    ON CONFLICT DO NOTHING;

    -- Portfolio templates (3 per track) and case studies (2 per industry).
    INSERT INTO professional_project_templates (template_id, template_code, title, description, industry_id, module_id,
                                                target_job_roles, difficulty_level, estimated_hours, skill_ids, tech_stack,
                                                deliverables, evaluation_rubric, showcase_criteria, employer_relevance_score,
                                                portfolio_impact, status)
    SELECT md5('template-' || t || '-' || p)::uuid, lower(track_codes[t]) || '-project-' || p,
           initcap(replace(tracks[t], '_', ' ')) || ' portfolio project ' || p, 'An end-to-end project employers recognise',
           mo.industry_applications[1], mo.module_id, mo.target_job_roles, p + 1, 20 * p, mo.skill_ids,
           ARRAY['git', 'docker'], ARRAY['repository', 'README', 'demo video'],
           '{"functionality": 40, "code_quality": 30, "communication": 30}', '{"min_avg_score": 80, "min_reviews": 2}',
           60 + 10 * p, (ARRAY['foundational', 'intermediate', 'signature'])[p], 'published'
      FROM generate_series(1, 8) t CROSS JOIN generate_series(1, 3) p
      JOIN curriculum_modules mo ON mo.module_id = md5('module-' || ((t - 1) * 6 + 5))::uuid
    ON CONFLICT DO NOTHING;
    INSERT INTO industry_case_studies (case_study_id, industry_id, title, company_name, company_size, is_company_anonymized,
                                       summary, challenge, approach, outcome, business_impact_metrics, technologies,
                                       job_roles_involved, difficulty_level, published_year, status)
    SELECT md5('case-' || i.industry_code || '-' || s)::uuid, i.industry_id, i.name || ' case study ' || s,
           'Example ' || initcap(replace(i.industry_code, '_', ' ')) || ' Co', (ARRAY['startup', 'enterprise'])[s], s = 2,
           'How a team in ' || i.name || ' solved a real problem', 'Slow manual process', 'Automated it step by step',
           'Cut processing time', jsonb_build_object('time_saved_pct', 30 + 10 * s), i.required_skills,
           ARRAY['analyst', 'engineer'], 2 + s, 2024 + s, 'published'
      FROM industry_sectors i CROSS JOIN generate_series(1, 2) s
     WHERE i.industry_id = md5('industry-' || i.industry_code)::uuid
    ON CONFLICT DO NOTHING;

    -- Mentors: expertise, capacity, availability, timezone, ratings.
    INSERT INTO mentor_profiles (mentor_id, display_name, headline, current_title, current_company, industry_id,
                                 years_experience, expertise_skill_ids, expertise_areas, is_career_changer, previous_career,
                                 mentoring_style, max_mentees, availability_status, weekly_availability,
                                 available_hours_per_week, timezone, utc_offset_minutes, languages, session_rate_usd,
                                 avg_rating, rating_count, total_sessions, avg_response_hours, accepting_new_mentees, verified_at)
    SELECT md5('mentor-' || m)::uuid,
           first_names[1 + (m % 20)] || ' ' || last_names[1 + ((m / 20) % 20)],
           'Senior practitioner in ' || ind.name,
           (ARRAY['Senior Engineer', 'Staff Engineer', 'Data Lead', 'Security Architect', 'Design Lead', 'Product Director'])[1 + (m % 6)],
           'Company ' || (1 + m % 97), ind.industry_id,
           round((3 + cs_seed_rand('m-years-' || m) * 22)::numeric, 1),
           ARRAY(SELECT s.skill_id FROM skill_taxonomy s WHERE s.depth = 1
                  ORDER BY cs_seed_rand('m-skill-' || m || '-' || s.skill_code) LIMIT 3 + (m % 4)),
           ind.required_skills,
           cs_seed_rand('m-changer-' || m) < 0.35, CASE WHEN cs_seed_rand('m-changer-' || m) < 0.35 THEN 'teaching' END,
           (ARRAY['directive', 'facilitative', 'coaching', 'hands_on'])[1 + (m % 4)],
           3 + (m % 6), 'available', '[{"day": "tue", "from": "18:00", "to": "20:00"}]',
           2 + (m % 5), tzs[1 + (m % 12)], tz_offsets[1 + (m % 12)],
           CASE WHEN m % 5 = 0 THEN ARRAY['en', 'es'] ELSE ARRAY['en'] END,
           CASE WHEN m % 4 = 0 THEN 0 ELSE 50 + (m % 5) * 25 END,
           round((3.5 + cs_seed_rand('m-rating-' || m) * 1.5)::numeric, 2), 5 + (m % 120), 10 + (m % 400),
           round((2 + cs_seed_rand('m-resp-' || m) * 46)::numeric, 2), m % 10 <> 0, timestamptz '2026-01-01 00:00+00'
      FROM generate_series(1, n_mentors) m
      JOIN industry_sectors ind ON ind.industry_id = md5('industry-' || (ARRAY['software_development', 'data_analytics', 'ai_ml',
          'cybersecurity', 'cloud_infrastructure', 'devops_sre', 'ux_design', 'product_management', 'fintech', 'healthtech',
          'edtech', 'ecommerce', 'gaming', 'it_support', 'digital_marketing', 'govtech'])[1 + (m % 16)])::uuid
    ON CONFLICT DO NOTHING;

    -- Learner profiles.
    INSERT INTO user_career_profiles (user_id, profile_source, persona_id, display_name, current_job_title, years_experience,
                                      highest_education, current_salary, target_industry_id, target_role, target_salary,
                                      career_stage, transition_motivation, available_study_hours_week,
                                      preferred_learning_style, experience_level, timezone, utc_offset_minutes,
                                      country_code, remote_preference, willing_to_relocate, program_start_date,
                                      target_job_start_date, target_skill_ids, onboarding_completed, consent_analytics,
                                      last_active_at)
    SELECT md5('learner-' || n)::uuid, 'seed', pp.persona_id,
           first_names[1 + ((n * 7) % 20)] || ' ' || last_names[1 + ((n * 13) % 20)],
           (ARRAY['Teacher', 'Retail Manager', 'Nurse', 'Logistics Coordinator', 'Accountant', 'Sergeant', 'Barista', 'Engineer'])[1 + (n % 8)],
           round((cs_seed_rand('l-years-' || n) * 20)::numeric, 1),
           (ARRAY['secondary', 'associate', 'bachelor', 'bachelor', 'master'])[1 + (n % 5)],
           round((30000 + cs_seed_rand('l-salary-' || n) * 40000)::numeric, -2),
           ind.industry_id, replace(ind.industry_code, '_', ' ') || ' junior',
           round((ind.salary_entry_min + cs_seed_rand('l-target-' || n) * (ind.salary_entry_max - ind.salary_entry_min))::numeric, -2),
           stages[1 + (n % 8)], 'Better prospects and meaningful work',
           round((5 + cs_seed_rand('l-hours-' || n) * 35)::numeric, 1),
           (ARRAY['visual', 'reading', 'hands_on', 'mixed'])[1 + (n % 4)],
           (ARRAY['beginner', 'beginner', 'intermediate', 'advanced'])[1 + (n % 4)],
           tzs[1 + (n % 12)], tz_offsets[1 + (n % 12)], countries[1 + (n % 12)],
           (ARRAY['remote', 'hybrid', 'onsite', 'any'])[1 + (n % 4)], n % 3 = 0,
           date '2025-06-01' + (n % 540)::int, date '2027-01-01' + (n % 365)::int,
           ARRAY(SELECT s.skill_id FROM skill_taxonomy s WHERE s.skill_code = ANY (ind.required_skills) ORDER BY s.skill_code),
           true, n % 2 = 0, timestamptz '2026-11-01 00:00+00' + make_interval(mins => (n % 30000)::int)
      FROM generate_series(1, n_learners) n
      JOIN industry_sectors ind ON ind.industry_id = md5('industry-' || (ARRAY['software_development', 'data_analytics', 'ai_ml',
          'cybersecurity', 'cloud_infrastructure', 'devops_sre', 'ux_design', 'product_management', 'fintech', 'healthtech',
          'edtech', 'ecommerce', 'gaming', 'it_support', 'digital_marketing', 'govtech'])[1 + (n % 16)])::uuid
      JOIN persona_profiles pp ON pp.persona_id = md5('persona-' || (ARRAY['teacher_to_tech', 'retail_manager', 'veteran',
          'returning_parent', 'career_switch_engineer', 'recent_graduate', 'healthcare_worker', 'self_taught_upskiller'])[1 + (n % 8)])::uuid
    ON CONFLICT DO NOTHING;

    -- Active mentorships: learner n <= 3000*scale with mentor ((n - 1) / 3) + 1 (scale-independent).
    INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status, matched_by, match_score,
                                          match_reasons, goals, requested_at, started_at)
    SELECT md5('relationship-' || n)::uuid, md5('mentor-' || ((n - 1) / 3 + 1))::uuid, md5('learner-' || n)::uuid,
           'active', 'algorithm', round((60 + cs_seed_rand('rel-' || n) * 40)::numeric, 2),
           '{"source": "seed"}', ARRAY['land a first role in tech'],
           timestamptz '2026-09-01 00:00+00', timestamptz '2026-09-02 00:00+00'
      FROM generate_series(1, n_mentored) n
     WHERE NOT EXISTS (SELECT 1 FROM mentorship_relationships r WHERE r.relationship_id = md5('relationship-' || n)::uuid)
    ON CONFLICT DO NOTHING;

    SELECT jsonb_build_object(
        'scale', scale,
        'industries', (SELECT count(*) FROM industry_sectors),
        'personas', (SELECT count(*) FROM persona_profiles),
        'skills', (SELECT count(*) FROM skill_taxonomy),
        'modules', (SELECT count(*) FROM curriculum_modules),
        'components', (SELECT count(*) FROM curriculum_components),
        'topics', (SELECT count(*) FROM curriculum_topics),
        'concepts', (SELECT count(*) FROM curriculum_concepts),
        'content_chunks', (SELECT count(*) FROM content_chunks),
        'assessments', (SELECT count(*) FROM assessments),
        'mentors', (SELECT count(*) FROM mentor_profiles),
        'learners', (SELECT count(*) FROM user_career_profiles),
        'active_mentorships', (SELECT count(*) FROM mentorship_relationships WHERE status = 'active'))
      INTO result;
    RETURN result;
END
$$;

REVOKE EXECUTE ON FUNCTION cs_seed(integer) FROM PUBLIC;
