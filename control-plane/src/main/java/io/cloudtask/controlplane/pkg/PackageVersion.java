package io.cloudtask.controlplane.pkg;

import java.time.Instant;
import java.util.UUID;

/** A row of {@code task_packages}: one version of a task's package. */
record PackageVersion(UUID taskId, long version, String sha256, String fileName, ArchiveFormat format,
        long sizeBytes, Instant uploadedAt, Long revertedFrom) {}
