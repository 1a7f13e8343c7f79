package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A task as the REST API returns it, with its next fire times for display. */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record TaskView(
        UUID id,
        String name,
        String cluster,
        @Nullable String command,
        @Nullable List<String> argv,
        @Nullable String workingDirectory,
        List<ScheduleRequest> schedules,
        String timeZone,
        Map<String, String> environment,
        long timeoutSeconds,
        boolean paused,
        RunPolicies.Overlap overlap,
        RunPolicies.Misfire misfire,
        RunPolicies.Retry retry,
        long killGraceSeconds,
        PlacementRequest placement,
        long version,
        Instant createdAt,
        Instant updatedAt,
        List<Instant> nextFireTimes) {}
