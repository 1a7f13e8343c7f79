-- Foundation schema: clusters, tasks, agents seen, runs and their output.

CREATE TABLE clusters (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO clusters (name, description) VALUES ('default', 'Created by the first migration');

CREATE TABLE tasks (
    id                UUID PRIMARY KEY,
    name              TEXT NOT NULL,
    cluster           TEXT NOT NULL REFERENCES clusters (name),
    -- Exactly one of shell_command / argv_json is set.
    shell_command     TEXT,
    argv_json         TEXT,
    working_directory TEXT,
    schedules_json    TEXT NOT NULL,
    time_zone         TEXT NOT NULL,
    environment_json  TEXT NOT NULL,
    timeout_seconds   BIGINT NOT NULL DEFAULT 0,
    paused            BOOLEAN NOT NULL DEFAULT FALSE,
    -- Increments on every edit; agents run the version their assignment names.
    version           BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    -- Deleted tasks are kept (their runs stay readable) but no longer assigned or listed.
    deleted_at        TIMESTAMPTZ,
    CONSTRAINT tasks_one_command CHECK ((shell_command IS NULL) <> (argv_json IS NULL))
);

CREATE UNIQUE INDEX tasks_live_name ON tasks (cluster, name) WHERE deleted_at IS NULL;
CREATE INDEX tasks_live_cluster ON tasks (cluster) WHERE deleted_at IS NULL;

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    cluster       TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    os            TEXT NOT NULL,
    arch          TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE runs (
    id                 UUID PRIMARY KEY,
    task_id            UUID NOT NULL,
    cluster            TEXT NOT NULL,
    agent_id           TEXT NOT NULL,
    fire_time          TIMESTAMPTZ NOT NULL,
    attempt            INT NOT NULL,
    trigger            TEXT NOT NULL,
    status             TEXT NOT NULL,
    spec_version       BIGINT NOT NULL,
    started_at         TIMESTAMPTZ,
    finished_at        TIMESTAMPTZ,
    exit_code          INT,
    error              TEXT,
    output_bytes       BIGINT NOT NULL DEFAULT 0,
    output_chunk_count BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    -- One fire, one run: a fire is (task, scheduled instant); retries are further attempts.
    CONSTRAINT runs_one_per_fire UNIQUE (task_id, fire_time, attempt)
);

CREATE INDEX runs_by_task_fire ON runs (task_id, fire_time DESC, id DESC);

CREATE TABLE run_output_chunks (
    run_id   UUID NOT NULL,
    sequence BIGINT NOT NULL,
    stream   SMALLINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (run_id, sequence)
);
