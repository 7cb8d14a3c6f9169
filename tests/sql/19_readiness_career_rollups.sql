-- tests/sql/19_readiness_career_rollups.sql
--      Migration 0081: readiness_career_rollups (latest proficiency per skill, job application
--      counts, active mentors, latest completed mock interview, per learner) equals a recount from
--      the raw rows after inserts in any order, updates, status changes, deletes, erasure, TRUNCATE
--      and readiness_career_rollup_recount; career_readiness_inputs_batch's skill, job, mentor and
--      mock-rating inputs equal those computed from the rows.
BEGIN;
SELECT plan(13);

-- The roll-up as the raw rows give it: the latest assessment per (learner, skill) by assessed_at,
-- equal times the higher score; the latest completed mock interview by completed_at (a completed one always has it),
-- then prep_id.
CREATE TEMP VIEW tap_career_expected AS
SELECT u.user_id, coalesce(s.skills, '{}') AS skills, coalesce(j.submitted, 0) AS apps_submitted,
       coalesce(j.interviewing, 0) AS apps_interviewing, coalesce(j.offers, 0) AS apps_offers,
       coalesce(m.n, 0) AS mentors_active, k.at AS mock_at, k.prep_id AS mock_prep_id, k.rating AS mock_rating
  FROM (SELECT user_id FROM user_skill_assessments UNION SELECT user_id FROM job_applications
        UNION SELECT mentee_id FROM mentorship_relationships UNION SELECT user_id FROM interview_preparation) u
  LEFT JOIN (SELECT x.user_id, jsonb_object_agg(x.skill_id::text,
                    jsonb_build_array((extract(epoch FROM x.assessed_at) * 1000000)::bigint, x.proficiency_score)) AS skills
               FROM (SELECT a.user_id, a.skill_id, a.assessed_at, a.proficiency_score,
                            row_number() OVER (PARTITION BY a.user_id, a.skill_id
                                               ORDER BY a.assessed_at DESC, a.proficiency_score DESC) AS rn
                       FROM user_skill_assessments a) x
              WHERE x.rn = 1 GROUP BY x.user_id) s ON s.user_id = u.user_id
  LEFT JOIN (SELECT user_id, sum((status <> 'draft')::int)::int AS submitted,
                    sum((status IN ('interviewing', 'offer', 'accepted'))::int)::int AS interviewing,
                    sum((status IN ('offer', 'accepted'))::int)::int AS offers
               FROM job_applications GROUP BY user_id) j ON j.user_id = u.user_id
  LEFT JOIN (SELECT mentee_id, count(*)::int AS n FROM mentorship_relationships WHERE status = 'active'
              GROUP BY mentee_id) m ON m.mentee_id = u.user_id
  LEFT JOIN (SELECT DISTINCT ON (ip.user_id) ip.user_id, coalesce(ip.completed_at, '-infinity') AS at, ip.prep_id,
                    ip.readiness_rating AS rating
               FROM interview_preparation ip WHERE ip.status = 'completed'
              ORDER BY ip.user_id, ip.completed_at DESC NULLS LAST, ip.prep_id DESC) k ON k.user_id = u.user_id;
-- A learner whose counts went back to zero may keep a row of zeros.
CREATE TEMP VIEW tap_career_actual AS
SELECT user_id, skills, apps_submitted, apps_interviewing, apps_offers, mentors_active, mock_at, mock_prep_id, mock_rating
  FROM readiness_career_rollups
 WHERE skills <> '{}' OR apps_submitted <> 0 OR apps_interviewing <> 0 OR apps_offers <> 0 OR mentors_active <> 0
    OR mock_at IS NOT NULL;
CREATE TEMP VIEW tap_career_expected_nz AS
SELECT * FROM tap_career_expected
 WHERE skills <> '{}' OR apps_submitted <> 0 OR mentors_active <> 0 OR mock_at IS NOT NULL;

SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000001f1');
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-0000000001f2');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-0000000001f1', 3);
SELECT tap.make_mentor('cccccccc-0000-0000-0000-0000000001f2', 3);
INSERT INTO skill_taxonomy (skill_id, skill_code, name, category, industry_demand_score)
VALUES ('51111111-0000-0000-0000-0000000001f1', 'tap19_one', 'Tap one', 'programming', 81.50),
       ('51111111-0000-0000-0000-0000000001f2', 'tap19_two', 'Tap two', 'data', NULL);
UPDATE user_career_profiles
   SET target_skill_ids = ARRAY['51111111-0000-0000-0000-0000000001f1', '51111111-0000-0000-0000-0000000001f3',
                                '51111111-0000-0000-0000-0000000001f2']::uuid[]
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f1';

-- Assessments: a batch with two results of one skill, then an older result arriving late, an equal
-- time with a higher score, a newer one.
INSERT INTO user_skill_assessments (user_id, event_id, skill_id, assessment_method, proficiency_level, proficiency_score, assessed_at)
VALUES ('aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f1', 'quiz', 'beginner', 40, '2026-01-02 10:00Z'),
       ('aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f1', 'quiz', 'advanced', 75.25, '2026-01-05 10:00:00.000123Z'),
       ('aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f2', 'quiz', 'advanced', 90, '2026-01-03 10:00Z'),
       ('aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f2', 'quiz', 'beginner', 30, '2026-01-03 10:00Z');
INSERT INTO user_skill_assessments (user_id, event_id, skill_id, assessment_method, proficiency_level, proficiency_score, assessed_at)
VALUES ('aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f1', 'quiz', 'novice', 10, '2026-01-01 10:00Z'),
       ('aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f2', 'quiz', 'beginner', 50, '2026-01-03 10:00Z'),
       ('aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f2', 'quiz', 'expert', 95, '2026-01-03 10:00Z'),
       ('aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f4', 'quiz', 'intermediate', 65, '2026-02-01 10:00Z');
INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title, status)
VALUES ('61111111-0000-0000-0000-0000000001f1', '2026-01-10 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), 'A', 'x', 'draft'),
       ('61111111-0000-0000-0000-0000000001f2', '2026-04-10 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), 'B', 'y', 'interviewing'),
       ('61111111-0000-0000-0000-0000000001f3', '2026-07-10 10:00Z', 'aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), 'C', 'z', 'offer');
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status, started_at)
VALUES ('71111111-0000-0000-0000-0000000001f1', 'cccccccc-0000-0000-0000-0000000001f1', 'aaaaaaaa-0000-0000-0000-0000000001f1', 'active', now()),
       ('71111111-0000-0000-0000-0000000001f2', 'cccccccc-0000-0000-0000-0000000001f2', 'aaaaaaaa-0000-0000-0000-0000000001f1', 'active', now()),
       ('71111111-0000-0000-0000-0000000001f3', 'cccccccc-0000-0000-0000-0000000001f1', 'aaaaaaaa-0000-0000-0000-0000000001f2', 'proposed', NULL);
INSERT INTO interview_preparation (prep_id, user_id, event_id, interview_type, status, completed_at, overall_score, readiness_rating)
VALUES ('81111111-0000-0000-0000-0000000001f2', 'aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), 'technical',
        'completed', '2026-02-10 10:00Z', 72.50, 'ready'),
       ('81111111-0000-0000-0000-0000000001f3', 'aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), 'technical',
        'completed', '2026-01-04 10:00Z', NULL, 'not_ready');
INSERT INTO interview_preparation (prep_id, user_id, event_id, interview_type, status, completed_at, overall_score, readiness_rating)
VALUES ('81111111-0000-0000-0000-0000000001f1', 'aaaaaaaa-0000-0000-0000-0000000001f1', gen_random_uuid(), 'behavioral',
        'completed', '2026-01-10 10:00Z', 61.25, 'developing'),
       ('81111111-0000-0000-0000-0000000001f4', 'aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), 'technical',
        'completed', '2026-01-04 10:00Z', 50, 'developing');
SELECT set_eq('SELECT * FROM tap_career_actual', 'SELECT * FROM tap_career_expected_nz',
              'inserts in any order: the roll-up is the recount');
SELECT results_eq($$SELECT skills, apps_submitted, apps_interviewing, apps_offers, mentors_active, mock_rating
                      FROM tap_career_actual WHERE user_id::text LIKE 'aaaaaaaa-%-0000000001f_' ORDER BY user_id$$,
                  $$VALUES ('{"51111111-0000-0000-0000-0000000001f1": [1767607200000123, 75.25],
                              "51111111-0000-0000-0000-0000000001f2": [1767434400000000, 90]}'::jsonb, 2, 1, 0, 2, 'ready'::text),
                           ('{"51111111-0000-0000-0000-0000000001f2": [1767434400000000, 95],
                              "51111111-0000-0000-0000-0000000001f4": [1769940000000000, 65]}'::jsonb, 2, 1, 1, 0, 'developing')$$,
                  '... which holds the newest assessments and mock interviews (equal times: the higher score, the greater prep_id)');

-- Status changes: applications move through their pipeline, a draft is sent, a mentorship ends and
-- one starts, a proposal without a change; assessments rewritten; a mock interview no longer completed.
UPDATE job_applications SET status = 'applied' WHERE application_id = '61111111-0000-0000-0000-0000000001f1';
UPDATE job_applications SET status = 'offer' WHERE application_id = '61111111-0000-0000-0000-0000000001f2';
UPDATE job_applications SET status = 'accepted' WHERE application_id = '61111111-0000-0000-0000-0000000001f3';
UPDATE job_applications SET notes = 'no status change' WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f2';
SELECT set_eq('SELECT * FROM tap_career_actual', 'SELECT * FROM tap_career_expected_nz', 'status changes: the recount');
UPDATE mentorship_relationships SET status = 'ended', ended_at = now(), end_reason = 'goals_met'
 WHERE relationship_id = '71111111-0000-0000-0000-0000000001f2';
UPDATE mentorship_relationships SET status = 'active', started_at = now() WHERE relationship_id = '71111111-0000-0000-0000-0000000001f3';
UPDATE user_skill_assessments SET assessed_at = '2025-12-01 10:00Z'
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f1' AND proficiency_score = 75.25;
UPDATE user_skill_assessments SET proficiency_score = 20
 WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f2' AND proficiency_score = 65;
UPDATE interview_preparation SET status = 'cancelled' WHERE prep_id = '81111111-0000-0000-0000-0000000001f2';
SELECT set_eq('SELECT * FROM tap_career_actual', 'SELECT * FROM tap_career_expected_nz',
              'mentorships, assessments moved back or rescored, a mock interview cancelled: the recount');
SELECT results_eq($$SELECT mentors_active, mock_rating, skills -> '51111111-0000-0000-0000-0000000001f1'
                      FROM tap_career_actual WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f1'$$,
                  $$VALUES (1, 'developing'::text, '[1767348000000000, 40]'::jsonb)$$,
                  '... an older assessment and an older mock interview are the latest again');

-- The read: the same inputs computed from the raw rows, independently of the roll-up.
CREATE TEMP VIEW tap_career_read_expected AS
SELECT u.user_id,
       (SELECT count(DISTINCT a.skill_id)::int FROM user_skill_assessments a WHERE a.user_id = u.user_id) AS assessed,
       (SELECT count(*)::int FROM user_skill_assessments a WHERE a.user_id = u.user_id AND a.proficiency_score >= 70
           AND NOT EXISTS (SELECT 1 FROM user_skill_assessments b WHERE b.user_id = a.user_id AND b.skill_id = a.skill_id
                              AND (b.assessed_at, b.proficiency_score) > (a.assessed_at, a.proficiency_score))) AS proficient,
       (SELECT count(*)::int FROM user_skill_assessments a WHERE a.user_id = u.user_id AND a.proficiency_score >= 70
           AND a.skill_id = ANY (ucp.target_skill_ids)
           AND NOT EXISTS (SELECT 1 FROM user_skill_assessments b WHERE b.user_id = a.user_id AND b.skill_id = a.skill_id
                              AND (b.assessed_at, b.proficiency_score) > (a.assessed_at, a.proficiency_score))) AS tprof,
       (SELECT round(avg(a.proficiency_score), 2) FROM user_skill_assessments a WHERE a.user_id = u.user_id
           AND NOT EXISTS (SELECT 1 FROM user_skill_assessments b WHERE b.user_id = a.user_id AND b.skill_id = a.skill_id
                              AND (b.assessed_at, b.proficiency_score) > (a.assessed_at, a.proficiency_score))) AS avg_prof,
       (SELECT count(*)::int FROM job_applications ja WHERE ja.user_id = u.user_id AND ja.status <> 'draft') AS submitted,
       (SELECT count(*)::int FROM job_applications ja WHERE ja.user_id = u.user_id
           AND ja.status IN ('interviewing', 'offer', 'accepted')) AS interviewing,
       (SELECT count(*)::int FROM job_applications ja WHERE ja.user_id = u.user_id AND ja.status IN ('offer', 'accepted')) AS offers,
       EXISTS (SELECT 1 FROM mentorship_relationships r WHERE r.mentee_id = u.user_id AND r.status = 'active') AS mentor,
       (SELECT ip.readiness_rating FROM interview_preparation ip WHERE ip.user_id = u.user_id AND ip.status = 'completed'
         ORDER BY ip.completed_at DESC NULLS LAST, ip.prep_id DESC LIMIT 1) AS latest,
       coalesce((SELECT array_agg(st.industry_demand_score ORDER BY t.ord)
                   FROM unnest(ucp.target_skill_ids) WITH ORDINALITY t(id, ord)
                   LEFT JOIN skill_taxonomy st ON st.skill_id = t.id), '{}') AS demand,
       coalesce((SELECT array_agg((SELECT a.proficiency_score FROM user_skill_assessments a
                                    WHERE a.user_id = u.user_id AND a.skill_id = t.id
                                    ORDER BY a.assessed_at DESC, a.proficiency_score DESC LIMIT 1) ORDER BY t.ord)
                   FROM unnest(ucp.target_skill_ids) WITH ORDINALITY t(id, ord)), '{}') AS prof
  FROM (VALUES ('aaaaaaaa-0000-0000-0000-0000000001f1'::uuid), ('aaaaaaaa-0000-0000-0000-0000000001f2')) u(user_id)
  JOIN user_career_profiles ucp ON ucp.user_id = u.user_id;
SELECT set_eq($$SELECT user_id, skills_assessed, skills_proficient, target_skills_proficient, avg_skill_proficiency,
                       applications_submitted, applications_interviewing, offers_received, has_active_mentor,
                       latest_mock_readiness, target_skill_demand, target_skill_proficiency
                  FROM career_readiness_inputs_batch(ARRAY['aaaaaaaa-0000-0000-0000-0000000001f1',
                                                           'aaaaaaaa-0000-0000-0000-0000000001f2']::uuid[])$$,
              'SELECT * FROM tap_career_read_expected', 'the read: skill, job, mentor and mock inputs as computed from the rows');
SELECT results_eq($$SELECT assessed, proficient, tprof, avg_prof, submitted, interviewing, offers, mentor, latest, demand, prof
                      FROM tap_career_read_expected ORDER BY user_id$$,
                  $$VALUES (2, 1, 1, 65.00::numeric, 3, 1, 1, true, 'developing'::text,
                            ARRAY[81.50, NULL, NULL]::numeric[], ARRAY[40, NULL, 90]::numeric[]),
                           (2, 1, 0, 57.50, 2, 1, 1, true, 'developing', '{}', '{}')$$,
                  '... which are not trivial');

-- Deletes: the newest assessment of a skill (the older one is the latest again), an application,
-- a mentorship, the latest mock interview.
DELETE FROM user_skill_assessments WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f2' AND proficiency_score = 95;
DELETE FROM job_applications WHERE application_id = '61111111-0000-0000-0000-0000000001f2';
DELETE FROM mentorship_relationships WHERE relationship_id = '71111111-0000-0000-0000-0000000001f1';
DELETE FROM interview_preparation WHERE prep_id = '81111111-0000-0000-0000-0000000001f4';
SELECT set_eq('SELECT * FROM tap_career_actual', 'SELECT * FROM tap_career_expected_nz', 'deletes: the recount');

SELECT gdpr_erase_user('aaaaaaaa-0000-0000-0000-0000000001f1');
SELECT set_eq('SELECT * FROM tap_career_actual', 'SELECT * FROM tap_career_expected_nz', 'erasure: the recount');
SELECT is_empty($$SELECT 1 FROM readiness_career_rollups WHERE user_id = 'aaaaaaaa-0000-0000-0000-0000000001f1'$$,
                '... no row left of the erased learner');

-- Writes that bypass the statement triggers, then the recount function.
SET LOCAL session_replication_role = replica;
INSERT INTO user_skill_assessments (user_id, event_id, skill_id, assessment_method, proficiency_level, proficiency_score, assessed_at)
VALUES ('aaaaaaaa-0000-0000-0000-0000000001f2', gen_random_uuid(), '51111111-0000-0000-0000-0000000001f2', 'quiz', 'expert', 99, '2026-03-03 10:00Z');
UPDATE job_applications SET status = 'withdrawn' WHERE application_id = '61111111-0000-0000-0000-0000000001f3';
SET LOCAL session_replication_role = origin;
SELECT isnt_empty('SELECT * FROM tap_career_expected_nz EXCEPT SELECT * FROM tap_career_actual', 'bypassed triggers: stale');
SELECT readiness_career_rollup_recount(NULL);
SELECT set_eq('SELECT * FROM tap_career_actual', 'SELECT * FROM tap_career_expected_nz', 'readiness_career_rollup_recount(NULL): the recount');

TRUNCATE user_skill_assessments, job_applications, mentorship_relationships, interview_preparation CASCADE;
SELECT is((SELECT count(*)::int FROM tap_career_actual), 0, 'TRUNCATE: nothing left');

SELECT * FROM finish();
ROLLBACK;
