package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A task as the REST API returns it, with its next fire times for display and its current package
 * ({@code "package"}, null when it has none).
 */
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
        RunPolicies.Delivery delivery,
        long killGraceSeconds,
        PlacementRequest placement,
        long version,
        Instant createdAt,
        Instant updatedAt,
        List<Instant> nextFireTimes,
        @JsonProperty("package") @Nullable CurrentPackage currentPackage) {}
