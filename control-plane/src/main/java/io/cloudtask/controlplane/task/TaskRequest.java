package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;
import java.util.Map;

/**
 * The body of create (POST) and replace (PUT). Exactly one of {@code command} (a shell command
 * line) or {@code argv} (a program and its arguments) is required. On PUT, {@code version}, when
 * given, must equal the stored version (optimistic concurrency). {@code overlap}, {@code misfire},
 * {@code retry}, {@code delivery} and {@code killGraceSeconds} are the run policies (docs/scheduling.md,
 * "Policies"); {@code placement} says which agents run the task (default: any one agent of the cluster).
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
        @Nullable RunPolicies.Overlap overlap,
        @Nullable RunPolicies.Misfire misfire,
        @Nullable RunPolicies.Retry retry,
        @Nullable RunPolicies.Delivery delivery,
        @Nullable Long killGraceSeconds,
        @Nullable PlacementRequest placement,
        @Nullable Long version) {

    /** A shell-command task with default policies, for code that builds tasks (the API takes JSON). */
    public static TaskRequest shell(String name, String cluster, String command, List<ScheduleRequest> schedules) {
        return new TaskRequest(name, cluster, command, null, null, schedules, null, Map.of(), null, null, null, null,
                null, null, null, null, null);
    }
}
