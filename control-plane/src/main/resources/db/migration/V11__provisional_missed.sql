-- A MISSED record an agent wrote for a fire it did not see (the fire fell in the gap while the
-- task moved to it from another agent, which may have run it). A report of the same fire from the
-- agent that ran it replaces the record; a provisional record never hides a real run.
ALTER TABLE runs ADD COLUMN provisional BOOLEAN NOT NULL DEFAULT FALSE;
