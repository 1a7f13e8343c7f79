-- Task placement: which agents run a task (docs/cluster.md, "Placement constraints").

-- The REST form, normalised: {"type": "any"} | {"type": "hosts", "hosts": [...]} |
-- {"type": "labels", "selector": "..."} | {"type": "broadcast", "selector": "..."}.
ALTER TABLE tasks ADD COLUMN placement_json TEXT NOT NULL DEFAULT '{"type":"any"}';
