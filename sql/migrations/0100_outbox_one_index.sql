-- sql/migrations/0100_outbox_one_index.sql
--      outbox_events keeps one index: its primary key becomes (consumer_group, id), the relay's
--      order, and the separate (consumer_group, id) index of 0065 goes (issue 15).
--
-- Every derived event a batch's COPY writes inserted an entry into two btrees: the primary key on
-- id and outbox_events_group (consumer_group, id). The relay (libcore/src/worker_outbox.c) reads
-- and deletes by group and id range only, so the second index serves every query and id alone is
-- never looked up. Measured on 70,000 readiness_score_changed-sized rows in one COPY: 0.39 CPU-s of
-- the backend with both indexes, 0.31 with the one (median of 8 paired runs). id stays unique on
-- its own (GENERATED ALWAYS AS IDENTITY); the primary key still names one row.

ALTER TABLE outbox_events DROP CONSTRAINT outbox_events_pkey;
ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_pkey PRIMARY KEY (consumer_group, id);
DROP INDEX outbox_events_group;
