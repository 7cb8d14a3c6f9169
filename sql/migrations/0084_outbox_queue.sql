-- sql/migrations/0084_outbox_queue.sql
--      outbox_events as a queue table: the own-group check once per statement, autovacuum that
--      keeps up with a table whose every row is deleted soon after it is written (issue 15).
--
-- 0065's row trigger (worker_own_group_only, BEFORE INSERT OR UPDATE OF consumer_group) ran a
-- PL/pgSQL call with a pg_roles probe for every derived event the batch's COPY wrote: measured
-- on 67,823 readiness_score_changed rows, half of the COPY's backend CPU (1.15 s of 2.3 s). The
-- insert check becomes a statement trigger over the transition table (worker_own_groups_inserted:
-- the same rule and message, one query per COPY); an UPDATE of consumer_group keeps the row
-- trigger (a worker role cannot update that column anyway: 0073 granted UPDATE (created_at) only).
--
-- The relay (libcore/src/worker_outbox.c) deletes what it published within a second or so;
-- dead rows pile up at the head of the (consumer_group, id) index that every relay round reads
-- first. Autovacuum's default trigger (20 % of the table) waits for a backlog; a fixed threshold
-- of 5,000 dead rows (a few relay rounds) and no scale factor keep the head short.
-- requires: worker_own_group_only, worker_own_groups_inserted

DROP TRIGGER trg_outbox_events_own_group ON outbox_events;
CREATE TRIGGER trg_outbox_events_own_group BEFORE UPDATE OF consumer_group ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION worker_own_group_only('write outbox rows');
CREATE TRIGGER trg_outbox_events_own_group_inserted AFTER INSERT ON outbox_events
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION worker_own_groups_inserted('write outbox rows');

ALTER TABLE outbox_events SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
