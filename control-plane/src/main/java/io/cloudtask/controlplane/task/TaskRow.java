package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.data.annotation.Id;
import io.micronaut.data.annotation.MappedEntity;
import java.time.Instant;
import java.util.UUID;

/** A row of {@code tasks}. Schedules, argv, environment and run policies are stored as JSON documents. */
@MappedEntity("tasks")
record TaskRow(
        @Id UUID id,
        String name,
        String cluster,
        @Nullable String shellCommand,
        @Nullable String argvJson,
        @Nullable String workingDirectory,
        String schedulesJson,
        String timeZone,
        String environmentJson,
        long timeoutSeconds,
        boolean paused,
        String policiesJson,
        long killGraceSeconds,
        long version,
        Instant createdAt,
        Instant updatedAt,
        @Nullable Instant deletedAt) {}
