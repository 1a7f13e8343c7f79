-- Strict delivery: one row per claimed fire. The primary key is the guarantee: a fire of a strict
-- task is granted once, to one agent, ever (until retention deletes the row, long after any agent
-- could still fire it).
CREATE TABLE fire_claims (
    task_id      UUID NOT NULL,
    fire_time    TIMESTAMPTZ NOT NULL,
    -- '' for a task that runs on one agent; the agent id for a broadcast task's copy.
    scope        TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    spec_version BIGINT NOT NULL,
    claimed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (task_id, fire_time, scope)
);

CREATE INDEX fire_claims_by_age ON fire_claims (claimed_at);
