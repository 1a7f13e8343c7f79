-- Output cap (head + tail kept, the middle cut) and indexes for run queries and retention.

ALTER TABLE runs
    ADD COLUMN output_stored_bytes BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN output_cut_bytes BIGINT NOT NULL DEFAULT 0,
    -- The contiguous range of chunk sequences removed by the cap; replays of it are ignored.
    ADD COLUMN output_cut_from_sequence BIGINT,
    ADD COLUMN output_cut_to_sequence BIGINT;

CREATE INDEX runs_by_fire ON runs (fire_time DESC, id DESC);
CREATE INDEX runs_by_cluster_fire ON runs (cluster, fire_time DESC, id DESC);
CREATE INDEX runs_by_agent_fire ON runs (agent_id, fire_time DESC, id DESC);
CREATE INDEX runs_running ON runs (cluster, agent_id) WHERE status = 'RUNNING';
