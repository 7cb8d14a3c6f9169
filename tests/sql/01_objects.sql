-- tests/sql/01_objects.sql
--      The schema has what the seed and issue 4 promise: 34 tables with at least the seed's
--      column counts (672 in all), keys, timestamps, 60+ indexes, 3 concurrently refreshable
--      materialized views, the functions, 8+ triggers, 12+ policies with FORCE, the roles,
--      the partitioning, and the erasure ledger.
BEGIN;
SELECT plan(34 + 34 + 21);

CREATE TEMP TABLE seed_tables (t text PRIMARY KEY, n int) ON COMMIT DROP;
INSERT INTO seed_tables VALUES
    ('persona_profiles', 18), ('user_career_profiles', 32), ('industry_sectors', 15),
    ('career_transformation_progress', 25), ('career_outcomes', 28),
    ('curriculum_modules', 20), ('curriculum_components', 15), ('curriculum_topics', 18), ('curriculum_concepts', 16),
    ('content_chunks', 42), ('content_versions', 8), ('industry_case_studies', 20),
    ('professional_project_templates', 22), ('content_role_variations', 20), ('persona_content_adaptations', 18),
    ('mentor_profiles', 22), ('mentorship_relationships', 15), ('career_coaching_sessions', 20), ('career_milestones', 18),
    ('user_portfolio_projects', 25), ('project_reviews', 16),
    ('skill_taxonomy', 18), ('user_skill_assessments', 20),
    ('interview_preparation', 20), ('job_applications', 25),
    ('embedding_models', 15), ('content_embeddings', 12),
    ('ai_avatar_roles', 15), ('employer_feedback', 25), ('user_progress', 35), ('system_logs', 15),
    ('assessments', 25), ('assessment_options', 6), ('assessment_test_cases', 8);

CREATE TEMP VIEW seed_cols AS
SELECT s.t, s.n, (SELECT count(*)::int FROM pg_attribute a
                   WHERE a.attrelid = to_regclass(s.t) AND a.attnum > 0 AND NOT a.attisdropped) AS have
  FROM seed_tables s;

SELECT has_table(t, t || ' exists') FROM seed_tables ORDER BY t;
SELECT cmp_ok(have, '>=', n, t || ' has at least the seed''s ' || n || ' columns') FROM seed_cols ORDER BY t;

SELECT is((SELECT count(*)::int FROM seed_tables), 34, 'the seed lists 34 tables');
SELECT cmp_ok((SELECT sum(have)::int FROM seed_cols), '>=', 672, 'the seed tables have 672 or more columns');

SELECT is(ARRAY(SELECT s.t FROM seed_tables s
                 WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = to_regclass(s.t) AND c.contype = 'p')
                 ORDER BY 1), '{}'::text[], 'every seed table has a primary key');

SELECT is(ARRAY(SELECT s.t FROM seed_tables s
                 WHERE s.t <> 'system_logs'
                   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(s.t) AND a.attname = 'created_at'
                                      AND format_type(a.atttypid, a.atttypmod) = 'timestamp with time zone' AND a.attnotnull)
                 ORDER BY 1), '{}'::text[], 'every seed table but the audit log (logged_at) has created_at timestamptz not null');

SELECT is(ARRAY(SELECT s.t FROM seed_tables s
                 WHERE s.t NOT IN ('system_logs', 'content_versions')
                   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(s.t) AND a.attname = 'updated_at')
                 ORDER BY 1), '{}'::text[], 'every mutable seed table has updated_at');

SELECT cmp_ok((SELECT count(*)::int FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
                WHERE c.contype = 'f' AND r.relnamespace = 'public'::regnamespace AND NOT r.relispartition),
              '>=', 40, 'foreign keys link the schema (40 or more)');
SELECT cmp_ok((SELECT count(*)::int FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
                WHERE c.contype = 'c' AND r.relnamespace = 'public'::regnamespace AND NOT r.relispartition),
              '>=', 300, 'check constraints encode the domain (300 or more)');

SELECT cmp_ok((SELECT count(*)::int FROM pg_index x
                 JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                WHERE t.relnamespace = 'public'::regnamespace AND NOT t.relispartition AND i.relname LIKE 'idx\_%'
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)),
              '>=', 60, '60 or more purpose-named indexes (idx_*), besides key indexes');
SELECT ok(EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_career_readiness_composite'
                     AND indexdef LIKE '%(target_industry_id, career_stage, available_study_hours_week)%'),
          'the seed''s composite readiness index');
SELECT ok(EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_content_industry_match' AND indexdef LIKE '%USING gin (industry_relevance)%'),
          'the seed''s GIN industry-content index');

SELECT ok(ARRAY(SELECT c.relname::text FROM pg_class c
                 WHERE c.relkind = 'm' AND c.relnamespace = 'public'::regnamespace
                   AND EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisunique AND x.indpred IS NULL))
          @> ARRAY['mv_career_transformation_metrics', 'mv_content_effectiveness', 'mv_mentorship_impact'],
          'three materialized views, each with a unique index for REFRESH CONCURRENTLY');

SELECT is(ARRAY(SELECT DISTINCT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'public'::regnamespace
                   AND p.proname IN ('career_readiness_inputs', 'mentor_match_candidates', 'recommend_content',
                                     'gdpr_erase_user', 'anonymize_employer_feedback', 'refresh_analytics',
                                     'audit_redact_user', 'cs_partition_maintain', 'cs_seed')
                 ORDER BY 1),
          ARRAY['anonymize_employer_feedback', 'audit_redact_user', 'career_readiness_inputs', 'cs_partition_maintain',
                'cs_seed', 'gdpr_erase_user', 'mentor_match_candidates', 'recommend_content', 'refresh_analytics'],
          'the domain functions exist');

SELECT ok(NOT EXISTS (SELECT 1 FROM pg_proc p
                        WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
                          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=pg\_catalog%')),
          'every SECURITY DEFINER function pins search_path');

SELECT ok(ARRAY(SELECT t.tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                 WHERE NOT t.tgisinternal AND NOT c.relispartition AND c.relnamespace = 'public'::regnamespace)
          @> ARRAY['trg_career_outcomes_placement', 'trg_coaching_sessions_completed', 'trg_content_chunks_history',
                   'trg_content_chunks_version', 'trg_erased_users_no_truncate', 'trg_erased_users_permanent',
                   'trg_job_applications_status_history', 'trg_mentorship_capacity', 'trg_mentorship_mentee_count',
                   'trg_project_reviews_rollup', 'trg_system_logs_append_only', 'trg_system_logs_no_truncate',
                   'trg_user_career_profiles_refuse_erased'],
          'the domain triggers exist (later migrations may add more)');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c JOIN seed_tables s ON s.t = c.relname
                 WHERE c.relnamespace = 'public'::regnamespace
                   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'updated_at')
                   AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'trg_' || c.relname || '_updated_at')
                 ORDER BY 1), '{}'::text[], 'every seed table with updated_at has its upkeep trigger');

SELECT cmp_ok((SELECT count(*)::int FROM pg_policies WHERE schemaname = 'public'), '>=', 12, '12 or more RLS policies');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relrowsecurity AND NOT c.relforcerowsecurity
                   AND NOT c.relispartition ORDER BY 1),
          '{}'::text[], 'every table with row-level security also forces it');

SELECT ok(ARRAY(SELECT r.rolname::text FROM pg_roles r
                 WHERE r.rolname LIKE 'cs\_%' AND NOT r.rolsuper AND NOT r.rolbypassrls AND NOT r.rolcanlogin)
          @> ARRAY['cs_analytics', 'cs_app_admin', 'cs_app_expert', 'cs_app_learner', 'cs_app_mentor',
                   'cs_worker_audit', 'cs_worker_matching', 'cs_worker_progress', 'cs_worker_readiness'],
          'least-privilege group roles exist, none superuser, BYPASSRLS or LOGIN');

SELECT ok(ARRAY(SELECT format('%s %s %s %s', c.relname, p.partstrat,
                              CASE WHEN p.partstrat = 'h' THEN (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) END,
                              EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class d ON d.oid = i.inhrelid
                                       WHERE i.inhparent = c.oid AND pg_get_expr(d.relpartbound, d.oid) = 'DEFAULT'))
                 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid)
          @> ARRAY['career_coaching_sessions r  t', 'job_applications r  t', 'system_logs r  t',
                   'user_portfolio_projects h 8 f', 'user_progress h 8 f'],
          'partitioning: sessions, applications and the audit log by range (each with DEFAULT), progress and portfolios hash 8');
SELECT ok(ARRAY(SELECT format('%s %s', parent_table, granularity) FROM partition_config)
          @> ARRAY['career_coaching_sessions month', 'job_applications quarter', 'system_logs week'],
          'range partitions: coaching sessions monthly, job applications quarterly, system_logs weekly');

SELECT ok(EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'erased_users'::regclass AND contype = 'p')
          AND (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
                WHERE attrelid = 'erased_users'::regclass AND attnum > 0) = ARRAY['user_id', 'erased_at', 'request_event_id', 'reason'],
          'erasure ledger erased_users(user_id pk, erased_at, request_event_id, reason)');

SELECT * FROM finish();
ROLLBACK;
