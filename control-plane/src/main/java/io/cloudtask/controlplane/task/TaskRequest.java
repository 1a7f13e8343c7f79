package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Creator;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;
import java.util.Map;

/**
 * The body of create (POST) and replace (PUT). Exactly one of {@code command} (a shell command
 * line) or {@code argv} (a program and its arguments) is required. On PUT, {@code version}, when
 * given, must equal the stored version (optimistic concurrency). {@code overlap}, {@code misfire},
 * {@code retry} and {@code killGraceSeconds} are the run policies (docs/scheduling.md, "Policies").
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
        @Nullable Long killGraceSeconds,
        @Nullable Long version) {

    /** Deserialisation uses this canonical constructor; the short one below is for code. */
    @Creator
    public TaskRequest {
    }

    /** A task with default run policies: the constructor from before policies existed. */
    public TaskRequest(String name, String cluster, String command, List<String> argv, String workingDirectory,
            List<ScheduleRequest> schedules, String timeZone, Map<String, String> environment, Long timeoutSeconds,
            Boolean paused, Long version) {
        this(name, cluster, command, argv, workingDirectory, schedules, timeZone, environment, timeoutSeconds, paused,
                null, null, null, null, version);
    }
}
