package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;
import java.util.Map;

/**
 * The body of create (POST) and replace (PUT). Exactly one of {@code command} (a shell command
 * line) or {@code argv} (a program and its arguments) is required. On PUT, {@code version}, when
 * given, must equal the stored version (optimistic concurrency).
 */
@Serdeable
public record TaskRequest(
        @Nullable String name,
        @Nullable String cluster,
        @Nullable String command,
        @Nullable List<String> argv,
        @Nullable String workingDirectory,
        @Nullable List<ScheduleRequest> schedules,
        @Nullable String timeZone,
        @Nullable Map<String, String> environment,
        @Nullable Long timeoutSeconds,
        @Nullable Boolean paused,
        @Nullable Long version) {}
