-- tests/sql/07_seed.sql
--      cs_seed(): realistic sizes, documented deterministic ids, idempotent, consistent with the
--      schema's own rules (capacity, RLS inputs).
BEGIN;
SELECT plan(15);

SELECT cs_seed(1) AS first \gset
SELECT is((:'first'::jsonb ->> 'learners')::int, 10000, '10,000 learner profiles');
SELECT is((:'first'::jsonb ->> 'mentors')::int, 1000, '1,000 mentors');
SELECT is((:'first'::jsonb ->> 'industries')::int, 16, '16 industries');
SELECT is((:'first'::jsonb ->> 'content_chunks')::int, 3456, 'a curriculum of 3,456 content chunks');
SELECT ok(EXISTS (SELECT 1 FROM user_career_profiles WHERE user_id = md5('learner-1')::uuid)
          AND EXISTS (SELECT 1 FROM user_career_profiles WHERE user_id = md5('learner-10000')::uuid)
          AND NOT EXISTS (SELECT 1 FROM user_career_profiles WHERE user_id = md5('learner-10001')::uuid),
          'learner n has user_id md5(''learner-'' || n)::uuid for n in 1..10000');
SELECT ok(EXISTS (SELECT 1 FROM mentor_profiles WHERE mentor_id = md5('mentor-1000')::uuid),
          'mentor m has mentor_id md5(''mentor-'' || m)::uuid');
SELECT is((SELECT count(*)::int FROM industry_sectors
            WHERE salary_entry_min IS NULL OR salary_median IS NULL OR growth_outlook IS NULL OR remote_work_pct IS NULL), 0,
          'every industry has salary bands, growth outlook and remote-work data');
SELECT is((SELECT count(*)::int FROM mentor_profiles WHERE cardinality(expertise_skill_ids) < 3 OR max_mentees < 3), 0,
          'every mentor has expertise and capacity');
SELECT is((SELECT count(*)::int FROM content_chunks c
             JOIN curriculum_concepts k ON k.concept_id = c.concept_id
             JOIN curriculum_topics t ON t.topic_id = k.topic_id
             JOIN curriculum_components p ON p.component_id = t.component_id
             JOIN curriculum_modules m ON m.module_id = p.module_id AND m.module_id = c.module_id), 3456,
          'every content chunk hangs off concept > topic > component > module');
SELECT is((SELECT count(*)::int FROM mentor_profiles WHERE current_mentee_count > max_mentees), 0,
          'seeded mentorships respect mentor capacity');
SELECT is(cs_seed(1), :'first'::jsonb, 'a second run adds nothing');
SELECT throws_ok($$SELECT cs_seed(0)$$, '22023', NULL, 'scale must be at least 1');
SELECT is(md5('mentor-' || 1000)::uuid, (SELECT mentor_id FROM mentorship_relationships WHERE mentee_id = md5('learner-3000')::uuid),
          'learner n <= 3000 is mentored by mentor ((n - 1) / 3) + 1');
SELECT cs_seed(2) AS second \gset
SELECT is(ARRAY[(:'second'::jsonb ->> 'learners')::int, (:'second'::jsonb ->> 'mentors')::int,
                (:'second'::jsonb ->> 'active_mentorships')::int], ARRAY[20000, 2000, 6000],
          '--scale 2 over scale 1 doubles learners, mentors and mentorships');
SELECT is((SELECT count(*)::int FROM mentor_profiles WHERE current_mentee_count > max_mentees), 0,
          'and still respects mentor capacity');

SELECT * FROM finish();
ROLLBACK;
