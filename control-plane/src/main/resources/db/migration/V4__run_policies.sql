-- Run policies (overlap, misfire, retry) as one normalised JSON document, and the kill grace.
-- '{}' reads as every default (the service normalises on read), so existing tasks need no rewrite.

ALTER TABLE tasks
    ADD COLUMN policies_json TEXT NOT NULL DEFAULT '{}',
    ADD COLUMN kill_grace_seconds BIGINT NOT NULL DEFAULT 5;
