-- sql/migrations/0066_effect_ledger.sql
--      The effect ledger belongs to the worker, not to a consumer group: processed_events is
--      keyed by (effect_scope, event_id).
--
-- Until now (0040) processed_events was keyed by (consumer_group, event_id): a replay under a
-- group of its own (cs-progress-replay-7), or a worker started under another --group, found no
-- ledger row and ran every once-only handler again (the double-apply issue 16 describes).
--
-- The effect scope is the worker's name (cs_worker_def_t.effect_scope, by default .name:
-- 'progress', 'audit'), the same for its live group and every replay group, so an event's
-- once-only effects apply once whichever group delivers it. consumer_offsets stays per group:
-- each group has its own position. consumer_group stays in the ledger as the group that applied
-- (or skipped) the event, for the record; it is no longer part of the key.
--
-- Concurrency: two groups of one scope delivering the same event at once both INSERT its row
-- ON CONFLICT DO NOTHING first thing in their transactions; the second waits on the first's
-- uncommitted row, and finds a conflict when it commits (its event is then a duplicate: the
-- synchronous path skips its once-only handlers, the pipelined commit's count check sends the
-- batch back to the synchronous path) or inserts it when the first rolls back.
--
-- Existing rows: each group's rows go to the scope of the worker role owning the group
-- (worker_roles; when that role has exactly one scope in worker_scopes), else to the worker named
-- by the group's dead letters (dead_letters.worker is the worker's name), else to the group's own
-- name. A deployment that ran a worker under a group known to neither (only possible as a
-- superuser or BYPASSRLS role) moves its rows before starting the new version:
--   UPDATE processed_events SET effect_scope = '<worker name>' WHERE consumer_group = '<group>';
-- Where two groups of one scope applied the same event (a replay group, already a double apply),
-- the earliest row stays.
--
-- Isolation (0064): the row-level policy on processed_events is now by scope: a worker role sees
-- and changes the rows of the scopes worker_scopes gives it, and writes rows only for groups it
-- owns (worker_roles).
-- requires: cs_worker_effect_scopes, cs_worker_group_patterns

CREATE TABLE worker_scopes (
    effect_scope text PRIMARY KEY CHECK (effect_scope ~ '^[A-Za-z0-9._-]+$'),
    role         name NOT NULL
);
COMMENT ON TABLE worker_scopes IS
    'Effect scopes (processed_events.effect_scope: a worker''s name) and the worker role owning '
    'each; the scope is shared by the worker''s live consumer group and its replay groups.';

INSERT INTO worker_scopes (effect_scope, role) VALUES
    ('progress', 'cs_worker_progress'),
    ('audit', 'cs_worker_audit'),
    ('readiness', 'cs_worker_readiness'),
    ('matching', 'cs_worker_matching');

ALTER TABLE processed_events ADD COLUMN effect_scope text;

-- One scope per group, computed once per distinct group.
CREATE TEMPORARY TABLE _cs_scope_of ON COMMIT DROP AS
SELECT g.consumer_group,
       coalesce((SELECT min(s.effect_scope)
                   FROM public.worker_roles w
                   JOIN public.worker_scopes s ON s.role = w.role
                  WHERE (g.consumer_group = w.group_prefix
                         OR starts_with(g.consumer_group, w.group_prefix || '-'))
                    AND (SELECT count(*) FROM public.worker_scopes s2 WHERE s2.role = w.role) = 1),
                (SELECT d.worker FROM public.dead_letters d
                  WHERE d.consumer_group = g.consumer_group ORDER BY d.id DESC LIMIT 1),
                g.consumer_group) AS effect_scope
  FROM (SELECT DISTINCT consumer_group FROM processed_events) g;

UPDATE processed_events p SET effect_scope = m.effect_scope
  FROM _cs_scope_of m WHERE m.consumer_group = p.consumer_group;

-- Two groups of one scope that both applied an event: the earliest row stays.
DELETE FROM processed_events p
 USING processed_events q
 WHERE q.effect_scope = p.effect_scope AND q.event_id = p.event_id
   AND (q.processed_at, q.consumer_group) < (p.processed_at, p.consumer_group);

ALTER TABLE processed_events ALTER COLUMN effect_scope SET NOT NULL;
ALTER TABLE processed_events DROP CONSTRAINT processed_events_pkey;
ALTER TABLE processed_events ADD PRIMARY KEY (effect_scope, event_id);
COMMENT ON COLUMN processed_events.effect_scope IS
    'The worker whose once-only effects the event had (its name, shared by all its groups).';
COMMENT ON COLUMN processed_events.consumer_group IS
    'The consumer group that applied or skipped the event (for the record; not in the key).';

DROP POLICY worker_own_groups ON processed_events;
CREATE POLICY worker_own_scopes ON processed_events FOR ALL
    TO cs_worker_progress, cs_worker_audit, cs_worker_readiness, cs_worker_matching
    USING (effect_scope = ANY ((SELECT cs_worker_effect_scopes())::text[]))
    WITH CHECK (effect_scope = ANY ((SELECT cs_worker_effect_scopes())::text[])
                AND consumer_group LIKE ANY ((SELECT cs_worker_group_patterns())::text[]));

GRANT SELECT ON worker_scopes TO cs_worker_progress, cs_worker_audit, cs_worker_readiness,
    cs_worker_matching, cs_app_admin;
