-- runs, partitioned by RANGE (fire_time): one partition per calendar month (UTC), named
-- runs_YYYY_MM, so retention can drop a whole month instead of deleting it row by row.
-- See docs/runs-and-logs.md, "Storage". The rows are copied: this migration takes time and disk
-- in proportion to the runs table, under the migration's lock (the control plane is not serving).
--
-- There is no DEFAULT partition: DETACH PARTITION ... CONCURRENTLY (how retention removes a month
-- without blocking ingestion) is not allowed while one exists. The control plane creates the
-- coming months ahead of time and, for a fire in a month that has no partition (a late replay of
-- an old run), creates that month's partition before retrying the insert (RunPartitions).
--
-- A run never changes partition: its id derives from its fire (task, fire instant, attempt, and
-- the agent or the RunNow command), fire_time is written once by the insert and never updated.

CREATE TABLE runs_partitioned (LIKE runs INCLUDING DEFAULTS) PARTITION BY RANGE (fire_time);

-- Month starts as UTC wall-clock timestamps (timestamp without time zone), so the arithmetic does
-- not depend on the session's TimeZone. Partitions: every month an existing run needs, and the
-- current month with the three after it (cloudtask.runs.partitions.months-ahead's default).
DO $$
DECLARE
    month_start TIMESTAMP;
BEGIN
    FOR month_start IN
        SELECT DISTINCT date_trunc('month', fire_time AT TIME ZONE 'UTC') FROM runs
        UNION
        SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                               date_trunc('month', now() AT TIME ZONE 'UTC') + INTERVAL '3 months',
                               INTERVAL '1 month')
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF runs_partitioned FOR VALUES FROM (%L) TO (%L)',
                       'runs_' || to_char(month_start, 'YYYY_MM'),
                       month_start::text || '+00',
                       (month_start + INTERVAL '1 month')::text || '+00');
    END LOOP;
END $$;

-- LIKE kept the column order, so the rows copy as they are.
INSERT INTO runs_partitioned SELECT * FROM runs;

DROP TABLE runs;
ALTER TABLE runs_partitioned RENAME TO runs;

-- PostgreSQL enforces a unique index of a partitioned table per partition, so every unique key
-- must contain the partition key. Each widened key still means what it meant:
-- * (id, fire_time): a run id is derived from its fire and always comes with the same fire_time,
--   so no id can appear with two fire times; (id, fire_time) is unique exactly when id is.
-- * runs_one_per_fire already contains fire_time: unchanged.
-- * (command_id, attempt, fire_time): a manual run's fire_time is its RunNow command's
--   requested_at, carried in the command itself and kept by every retry, so all runs of one
--   command share one fire_time and the key is unique exactly when (command_id, attempt) is.
-- Created after the copy (one index build instead of row-by-row maintenance).
ALTER TABLE runs ADD CONSTRAINT runs_pkey PRIMARY KEY (id, fire_time);
CREATE UNIQUE INDEX runs_one_per_fire ON runs (task_id, fire_time, attempt, fire_scope) WHERE command_id IS NULL;
CREATE UNIQUE INDEX runs_one_per_command ON runs (command_id, attempt, fire_time) WHERE command_id IS NOT NULL;
CREATE INDEX runs_by_task_fire ON runs (task_id, fire_time DESC, id DESC);
CREATE INDEX runs_by_fire ON runs (fire_time DESC, id DESC);
CREATE INDEX runs_by_cluster_fire ON runs (cluster, fire_time DESC, id DESC);
CREATE INDEX runs_by_agent_fire ON runs (agent_id, fire_time DESC, id DESC);
CREATE INDEX runs_running ON runs (cluster, agent_id) WHERE status = 'RUNNING';
