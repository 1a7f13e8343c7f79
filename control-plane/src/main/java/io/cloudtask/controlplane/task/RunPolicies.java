package io.cloudtask.controlplane.task;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * The run policies of a task as the REST API accepts and returns them (docs/scheduling.md,
 * "Policies"). Every part is optional on input; the stored and returned form is normalised by
 * {@link RunPolicyValidator}: policies upper-case, defaults filled in, and only the fields that
 * apply to the chosen policy present.
 */
public final class RunPolicies {
    private RunPolicies() {}

    /** {@code "overlap": {"policy": "QUEUE", "maxQueued": 2}}. */
    @Serdeable
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Overlap(@Nullable String policy, @Nullable Integer maxQueued, @Nullable Integer maxParallel) {}

    /** {@code "misfire": {"policy": "RUN_ALL", "maxCatchUp": 5}}. */
    @Serdeable
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Misfire(@Nullable String policy, @Nullable Integer maxCatchUp) {}

    /** {@code "retry": {"maxAttempts": 3, "initialDelaySeconds": 10, "maxDelaySeconds": 300}}. */
    @Serdeable
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Retry(@Nullable Integer maxAttempts, @Nullable Long initialDelaySeconds, @Nullable Long maxDelaySeconds) {}

    /**
     * {@code "delivery": {"policy": "STRICT"}}: STANDARD (default) relies on fencing; STRICT also
     * claims every fire from the control plane before it starts (docs/cluster.md, "Strict delivery").
     */
    @Serdeable
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delivery(@Nullable String policy) {}

    /** What {@code tasks.policies_json} holds: the normalised parts (delivery is absent in rows before it existed). */
    @Serdeable
    public record Stored(@Nullable Overlap overlap, @Nullable Misfire misfire, @Nullable Retry retry,
                         @Nullable Delivery delivery) {}
}
