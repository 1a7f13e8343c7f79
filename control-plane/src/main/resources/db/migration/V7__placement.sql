-- Task placement: which agents run a task (docs/cluster.md, "Placement constraints").

-- The REST form, normalised: {"type": "any"} | {"type": "hosts", "hosts": [...]} |
-- {"type": "labels", "selector": "..."} | {"type": "broadcast", "selector": "..."}.
ALTER TABLE tasks ADD COLUMN placement_json TEXT NOT NULL DEFAULT '{"type":"any"}';

-- Broadcast fires: every matching agent runs its own copy, so a fire of a broadcast task has one
-- run per agent. fire_scope is the agent id for such a run ('' for every other run) and joins the
-- one-run-per-fire key; ingestion sets it from RunStarted/RunFinished.broadcast.
ALTER TABLE runs ADD COLUMN fire_scope TEXT NOT NULL DEFAULT '';
DROP INDEX runs_one_per_fire;
CREATE UNIQUE INDEX runs_one_per_fire ON runs (task_id, fire_time, attempt, fire_scope) WHERE command_id IS NULL;
