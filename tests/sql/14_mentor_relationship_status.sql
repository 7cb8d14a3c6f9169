-- tests/sql/14_mentor_relationship_status.sql
--      Issue 14: a mentor may not change a relationship's status or end fields (an ended
--      relationship set back to 'active' would show the mentee's rows again), but still edits the
--      working fields of their own relationships; cs-matching and admins change status.
BEGIN;
SELECT plan(16);

-- Learner A; mentor M ended with A; mentor N active with learner B (made after M's pair ended).
SELECT tap.make_learner('aaaaaaaa-0000-0000-0000-00000000000a');
SELECT tap.make_learner('bbbbbbbb-0000-0000-0000-00000000000b');
SELECT tap.make_mentor('cccccccc-0000-0000-0000-00000000000c');
SELECT tap.make_mentor('dddddddd-0000-0000-0000-00000000000d');
INSERT INTO mentorship_relationships (relationship_id, mentor_id, mentee_id, status, started_at)
VALUES ('eeeeeeee-0000-0000-0000-00000000000e', 'cccccccc-0000-0000-0000-00000000000c',
        'aaaaaaaa-0000-0000-0000-00000000000a', 'active', now() - interval '30 days'),
       ('eeeeeeee-0000-0000-0000-0000000000ef', 'dddddddd-0000-0000-0000-00000000000d',
        'bbbbbbbb-0000-0000-0000-00000000000b', 'active', now() - interval '30 days');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM user_progress'), 1::bigint,
          'while active, mentor M sees mentee A''s progress');
UPDATE mentorship_relationships SET status = 'ended', end_reason = 'goals_met', ended_at = now()
 WHERE relationship_id = 'eeeeeeee-0000-0000-0000-00000000000e';

-- The attack: reopen the ended relationship, then read the mentee.
SELECT throws_ok($$SELECT tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c',
                     'UPDATE mentorship_relationships SET status = ''active'', ended_at = NULL, end_reason = NULL')$$,
                 '42501', NULL, 'mentor M cannot set the ended relationship back to active');
SELECT throws_ok($$SELECT tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c',
                     'UPDATE mentorship_relationships SET status = ''active''')$$,
                 '42501', NULL, '... not even by changing status alone');
SELECT is((SELECT status || '/' || end_reason FROM mentorship_relationships
            WHERE relationship_id = 'eeeeeeee-0000-0000-0000-00000000000e'), 'ended/goals_met',
          'the relationship is still ended');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM user_progress'), 0::bigint,
          'mentor M still cannot read A''s progress');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c', 'SELECT * FROM user_career_profiles'), 0::bigint,
          '... nor A''s profile');

-- Nor any other status or end field change, on an ended or an active relationship.
SELECT throws_ok($$SELECT tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c',
                     'UPDATE mentorship_relationships SET ended_at = now() + interval ''1 year''')$$,
                 '42501', NULL, 'mentor M cannot move ended_at');
SELECT throws_ok($$SELECT tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c',
                     'UPDATE mentorship_relationships SET end_reason = ''other''')$$,
                 '42501', NULL, 'mentor M cannot change end_reason');
SELECT throws_ok($$SELECT tap.run_as('cs_app_mentor', 'dddddddd-0000-0000-0000-00000000000d',
                     'UPDATE mentorship_relationships SET status = ''paused''')$$,
                 '42501', NULL, 'mentor N cannot change the status of an active relationship either');
SELECT is(ARRAY(SELECT c FROM unnest(ARRAY['status', 'ended_at', 'end_reason', 'started_at', 'mentor_id', 'mentee_id']) c
                 WHERE has_column_privilege('cs_app_mentor', 'mentorship_relationships', c, 'UPDATE')),
          '{}'::text[], 'cs_app_mentor has no UPDATE privilege on status, end, start or party columns');

-- What a mentor still may: the working fields of their own relationships.
SELECT is(tap.run_as('cs_app_mentor', 'dddddddd-0000-0000-0000-00000000000d',
                     $$UPDATE mentorship_relationships SET progress_notes = 'portfolio review next',
                              meeting_cadence = 'weekly', goals = '{first interview}'$$), 1::bigint,
          'mentor N edits notes, cadence and goals of their own relationship');
SELECT is(tap.run_as('cs_app_mentor', 'cccccccc-0000-0000-0000-00000000000c',
                     $$UPDATE mentorship_relationships SET progress_notes = 'hijacked'
                        WHERE relationship_id = 'eeeeeeee-0000-0000-0000-0000000000ef'$$), 0::bigint,
          'mentor M cannot edit N''s relationship');
SELECT is((SELECT progress_notes FROM mentorship_relationships WHERE relationship_id = 'eeeeeeee-0000-0000-0000-0000000000ef'),
          'portfolio review next', 'N''s notes are N''s');

-- Who does change status: cs-matching and admins.
SELECT is(tap.run_as('cs_worker_matching', NULL,
                     $$UPDATE mentorship_relationships SET status = 'paused'
                        WHERE relationship_id = 'eeeeeeee-0000-0000-0000-0000000000ef'$$), 1::bigint,
          'cs_worker_matching changes a relationship''s status');
SELECT is(tap.run_as('cs_app_admin', 'ffffffff-0000-0000-0000-00000000000f',
                     $$UPDATE mentorship_relationships SET status = 'ended', end_reason = 'program_completed'
                        WHERE relationship_id = 'eeeeeeee-0000-0000-0000-0000000000ef'$$), 1::bigint,
          'an admin ends a relationship');
SELECT is(tap.run_as('cs_app_mentor', 'dddddddd-0000-0000-0000-00000000000d', 'SELECT * FROM user_progress'), 0::bigint,
          'after an admin ended it, mentor N no longer sees B');

SELECT * FROM finish();
ROLLBACK;
