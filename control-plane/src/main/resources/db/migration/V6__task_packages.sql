-- Task packages: archives stored once per content (sha256) in 1 MiB chunks, and each task's
-- versions pointing at them. See docs/architecture.md, "Task packages".

CREATE TABLE package_blobs (
    sha256     TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    -- ZIP or TAR_GZ: the format the content was verified as on upload.
    format     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT package_blobs_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT package_blobs_format CHECK (format IN ('ZIP', 'TAR_GZ'))
);

-- Chunk n holds bytes [n * 1 MiB, (n + 1) * 1 MiB) of the blob; every chunk but the last is full,
-- so a byte offset maps to (offset / 1 MiB, offset % 1 MiB) without reading earlier chunks.
CREATE TABLE package_blob_chunks (
    sha256 TEXT NOT NULL REFERENCES package_blobs (sha256) ON DELETE CASCADE,
    seq    INT NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (sha256, seq)
);

-- Every upload (and every revert) is a version of its task; the newest N are kept.
CREATE TABLE task_packages (
    task_id        UUID NOT NULL REFERENCES tasks (id),
    version        BIGINT NOT NULL,
    -- No cascade: a blob goes only when no version refers to it any more.
    sha256         TEXT NOT NULL REFERENCES package_blobs (sha256),
    file_name      TEXT NOT NULL,
    format         TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    uploaded_at    TIMESTAMPTZ NOT NULL,
    -- Set when this version was made by reverting to an older one.
    reverted_from  BIGINT,
    PRIMARY KEY (task_id, version)
);

CREATE INDEX task_packages_by_sha256 ON task_packages (sha256);

-- The task's current package version; NULL: the task has no package.
ALTER TABLE tasks ADD COLUMN package_version BIGINT;
ALTER TABLE tasks ADD CONSTRAINT tasks_current_package
    FOREIGN KEY (id, package_version) REFERENCES task_packages (task_id, version);
