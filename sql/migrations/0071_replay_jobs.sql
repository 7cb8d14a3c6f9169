-- sql/migrations/0071_replay_jobs.sql
--      Replay jobs (cs-replay, `<worker> replay`): what each replay was asked to do, its state,
--      its exact counters, and the frozen range of each of its partitions.
--
-- A replay reprocesses a range of a worker's partitions under a consumer group of its own
-- (consumer_group: '<live group>-replay-<job_id>', which the worker role owns, 0064). Its
-- position is that group's consumer_offsets rows, written by the runtime in the same transaction
-- as the effects; the job's counters move in that transaction too (worker_txn.c), so both are
-- exact after a kill -9 and `cs-replay --resume JOB`. replay_job_partitions keeps each
-- partition's start (inclusive) and frozen end (exclusive), decided once when the job starts:
-- the high watermark then, unless --to / --to-offset said otherwise, so a replay ends even while
-- producers keep writing.
--
-- state: running (started; a process may or may not still run it), done (every partition
-- reached its end), interrupted (stopped by a signal; resumable), failed (stopped by an error;
-- resumable once the cause is fixed).

CREATE TABLE replay_jobs (
    job_id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker            text        NOT NULL,
    effect_scope      text        NOT NULL,
    consumer_group    text        NOT NULL UNIQUE,
    topics            text[]      NOT NULL,
    options           jsonb       NOT NULL DEFAULT '{}',
    state             text        NOT NULL DEFAULT 'running'
                                  CHECK (state IN ('running', 'done', 'interrupted', 'failed')),
    events_read       bigint      NOT NULL DEFAULT 0,
    applied           bigint      NOT NULL DEFAULT 0,
    skipped_duplicate bigint      NOT NULL DEFAULT 0,
    skipped_erased    bigint      NOT NULL DEFAULT 0,
    dead_lettered     bigint      NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
COMMENT ON TABLE replay_jobs IS
    'cs-replay jobs: worker, consumer group of their own, options as given, state, and counters '
    'updated in each batch''s transaction (exact across kill -9 and --resume).';

CREATE TABLE replay_job_partitions (
    job_id          bigint  NOT NULL REFERENCES replay_jobs ON DELETE CASCADE,
    topic           text    NOT NULL,
    kafka_partition integer NOT NULL CHECK (kafka_partition >= 0),
    start_offset    bigint  NOT NULL CHECK (start_offset >= 0),
    end_offset      bigint  NOT NULL CHECK (end_offset >= start_offset),
    PRIMARY KEY (job_id, topic, kafka_partition)
);
COMMENT ON TABLE replay_job_partitions IS
    'Each replay job''s partitions: start offset (inclusive) and end offset (exclusive), frozen '
    'when the job started.';

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['cs_worker_progress', 'cs_worker_audit', 'cs_worker_readiness',
                             'cs_worker_matching'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON replay_jobs TO %I', r);
            EXECUTE format('GRANT SELECT, INSERT ON replay_job_partitions TO %I', r);
        END IF;
    END LOOP;
END
$$;
