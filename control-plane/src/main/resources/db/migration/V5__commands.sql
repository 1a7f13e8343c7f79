-- Commands to agents (run now, kill run), and manual runs as fires of their own.

-- A manual run's fire is its RunNow command, not an instant: it must never collide with a
-- scheduled fire of the same task that happens to fall on the same millisecond.
ALTER TABLE runs ADD COLUMN command_id UUID;
ALTER TABLE runs DROP CONSTRAINT runs_one_per_fire;
CREATE UNIQUE INDEX runs_one_per_fire ON runs (task_id, fire_time, attempt) WHERE command_id IS NULL;
CREATE UNIQUE INDEX runs_one_per_command ON runs (command_id, attempt) WHERE command_id IS NOT NULL;

-- Delivered over the agent's stream by whichever replica holds it (LISTEN/NOTIFY on
-- cloudtask_commands wakes that replica; a periodic sweep covers a lost notification).
CREATE TABLE commands (
    id           UUID PRIMARY KEY,
    -- RUN_NOW or KILL_RUN.
    kind         TEXT NOT NULL,
    cluster      TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    task_id      UUID NOT NULL,
    -- RUN_NOW: the run id of its first attempt; KILL_RUN: the run to kill.
    run_id       UUID NOT NULL,
    -- The ControlMessage sent to the agent, exactly as sent every time it is delivered.
    payload      BYTEA NOT NULL,
    -- PENDING -> DELIVERED -> ACCEPTED | REJECTED, or EXPIRED when no answer came in time.
    state        TEXT NOT NULL,
    message      TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    delivered_by TEXT,
    answered_at  TIMESTAMPTZ
);

CREATE INDEX commands_open ON commands (agent_id, created_at) WHERE state IN ('PENDING', 'DELIVERED');
CREATE INDEX commands_by_task ON commands (task_id, created_at DESC);
CREATE INDEX commands_by_age ON commands (created_at);
