package io.cloudtask.controlplane.allocation;

import java.util.Objects;

/** A task the allocator could put on no agent, and why. */
public record Unassigned(String taskId, UnassignedReason reason) {
    public Unassigned {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(reason, "reason");
    }
}
