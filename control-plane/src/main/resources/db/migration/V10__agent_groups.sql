-- Agent groups (docs/cluster.md, "Groups") and the drain option waitForRuns.

-- A group is a named label selector within a cluster: its members are the cluster's agents whose
-- labels (os and arch included) satisfy it, so membership follows the agents' labels and needs
-- no table of its own. Tasks place on a group by name ({"type": "group", "group": "web"} in
-- tasks.placement_json); the allocator resolves the selector on every publication.
CREATE TABLE agent_groups (
    cluster     TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    -- Canonical form (LabelSelector.toString), never empty.
    selector    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Increments on every edit; an edit naming another version is refused.
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster, name)
);

ALTER TABLE agents
    -- For a draining agent: whether a task with a run in flight there stays until the run ends
    -- (TRUE, the default) or moves at once while the run goes on to completion (FALSE).
    ADD COLUMN drain_waits_for_runs BOOLEAN NOT NULL DEFAULT TRUE;
