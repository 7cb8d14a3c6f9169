-- tests/sql/32_outbox_one_index.sql
--      Migration 0100: outbox_events has one index, its primary key (consumer_group, id), and
--      the relay's queries (libcore/src/worker_outbox.c) are served by it: the read from a cursor
--      in id order and the delete of a round's rows by their range, the id list a filter.
BEGIN;
SELECT plan(8);

SELECT is((SELECT count(*) FROM pg_index WHERE indrelid = 'outbox_events'::regclass), 1::bigint,
          'outbox_events has one index');
SELECT is((SELECT array_agg(a.attname ORDER BY k.n)::text
             FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = 'outbox_events'::regclass AND a.attnum = k.attnum
            WHERE i.indrelid = 'outbox_events'::regclass AND i.indisprimary),
          '{consumer_group,id}', 'its primary key is (consumer_group, id)');
SELECT is((SELECT attidentity::text FROM pg_attribute
            WHERE attrelid = 'outbox_events'::regclass AND attname = 'id'),
          'a', 'id is still GENERATED ALWAYS AS IDENTITY');

-- Two groups' rows, as the relays see them.
INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint)
SELECT g, gen_random_uuid(), 'x', 't', 'k', '\x00', 'f'
  FROM generate_series(1, 3000) i, unnest(ARRAY['cs-readiness', 'cs-matcher']) g;
ANALYZE outbox_events;

CREATE FUNCTION pg_temp.plan_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || p_sql LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SELECT matches(pg_temp.plan_of($$SELECT id, topic, msg_key, payload, event_type, fingerprint,
                                        coalesce(traceparent, '') FROM outbox_events
                                  WHERE consumer_group = 'cs-readiness' AND id > 1000::bigint
                                  ORDER BY id LIMIT 1000$$),
               'Index Scan using outbox_events_pkey.*Index Cond: \(\(consumer_group = .*\(id > ',
               'the relay reads on from its cursor through the primary key');
CREATE TEMP TABLE del_plan AS
SELECT pg_temp.plan_of($$DELETE FROM outbox_events WHERE consumer_group = 'cs-readiness'
                         AND id BETWEEN 1001::bigint AND 1200::bigint
                         AND id + 0 = ANY ('{1001,1003,1200}'::bigint[])$$) AS p;
SELECT matches((SELECT p FROM del_plan),
               'Index Scan (using|on) outbox_events_pkey[^\n]*\n[^\n]*Index Cond: [^\n]*consumer_group = [^\n]*id >= [^\n]*id <= ',
               'the relay deletes a round''s rows by their range through the primary key');
SELECT doesnt_match((SELECT p FROM del_plan), 'Cond: [^\n]*ANY',
                    'the id list filters the range: no index descent per id');

-- The delete takes the listed rows of the group, no other row in the range.
CREATE TEMP TABLE listed AS SELECT id, consumer_group FROM outbox_events WHERE id % 3 = 0 AND id <= 60;
DELETE FROM outbox_events WHERE consumer_group = 'cs-readiness' AND id BETWEEN 1 AND 60
   AND id + 0 = ANY (ARRAY(SELECT id FROM listed));
SELECT is((SELECT count(*) FROM outbox_events o JOIN listed l USING (id)),
          (SELECT count(*) FROM listed WHERE consumer_group = 'cs-matcher'),
          'the listed rows of the group are gone, the other group''s stay');
SELECT is((SELECT count(*) FROM outbox_events),
          6000 - (SELECT count(*) FROM listed WHERE consumer_group = 'cs-readiness'),
          'no row outside the list is deleted');

SELECT * FROM finish();
ROLLBACK;
