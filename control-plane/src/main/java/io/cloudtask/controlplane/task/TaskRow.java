package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.data.annotation.Id;
import io.micronaut.data.annotation.MappedEntity;
import java.time.Instant;
import java.util.UUID;

/**
 * A row of {@code tasks}. Schedules, argv, environment, run policies and placement are stored as
 * JSON documents.
 */
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
        String placementJson,
        long version,
        Instant createdAt,
        Instant updatedAt,
        @Nullable Instant deletedAt) {

    /** This row paused or resumed, as the next version. */
    TaskRow withPaused(boolean newPaused, Instant now) {
        return new TaskRow(id, name, cluster, shellCommand, argvJson, workingDirectory, schedulesJson, timeZone,
                environmentJson, timeoutSeconds, newPaused, policiesJson, killGraceSeconds, placementJson, version + 1, createdAt, now,
                deletedAt);
    }

    /** This row soft-deleted, as the next version. */
    TaskRow deletedAt(Instant now) {
        return new TaskRow(id, name, cluster, shellCommand, argvJson, workingDirectory, schedulesJson, timeZone,
                environmentJson, timeoutSeconds, paused, policiesJson, killGraceSeconds, placementJson, version + 1, createdAt, now, now);
    }

    /** A new task with this definition under another id and name, at version 1. */
    TaskRow copiedAs(UUID newId, String newName, boolean newPaused, Instant now) {
        return new TaskRow(newId, newName, cluster, shellCommand, argvJson, workingDirectory, schedulesJson, timeZone,
                environmentJson, timeoutSeconds, newPaused, policiesJson, killGraceSeconds, placementJson, 1, now, now, null);
    }
}
