-- Cluster admission (join tokens, allowed hosts) and agent cordon/drain flags.

-- Clusters that exist before this migration stay open, so agents already deployed keep
-- connecting after an upgrade; clusters created afterwards require a token (the API sets it).
ALTER TABLE clusters
    ADD COLUMN require_join_token BOOLEAN NOT NULL DEFAULT FALSE,
    -- Host name globs and CIDR blocks, one per line; empty: any host.
    ADD COLUMN allowed_hosts TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ALTER COLUMN require_join_token SET DEFAULT TRUE;

CREATE TABLE join_tokens (
    id           UUID PRIMARY KEY,
    cluster      TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    -- The first characters of the token, shown so an operator can tell tokens apart.
    prefix       TEXT NOT NULL,
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash   BYTEA NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE INDEX join_tokens_by_cluster ON join_tokens (cluster, created_at);

ALTER TABLE agents
    -- Cordoned: takes no new task, keeps its own. Draining: cordoned and gives its tasks up.
    ADD COLUMN cordoned BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN draining BOOLEAN NOT NULL DEFAULT FALSE,
    -- The replica holding the agent's stream, cleared when the stream ends.
    ADD COLUMN connected_replica TEXT,
    -- Last reported labels (JSON object) and capacity, shown while the agent is offline.
    ADD COLUMN labels_json TEXT NOT NULL DEFAULT '{}',
    ADD COLUMN capacity INT NOT NULL DEFAULT 0;

CREATE INDEX agents_by_cluster ON agents (cluster, id);
