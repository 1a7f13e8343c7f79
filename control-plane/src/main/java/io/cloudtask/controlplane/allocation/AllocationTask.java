package io.cloudtask.controlplane.allocation;

import java.util.Objects;
import java.util.Set;

/**
 * A live task as the allocator sees it.
 *
 * @param taskId the task id
 * @param specVersion the spec version; an edit changes it but never moves the task
 * @param placement where it may run
 * @param runningOn agents on which one of its runs is in flight (usually none or one; several for
 *     a broadcast task). The task stays on such an agent while that agent is alive, whatever
 *     else changed.
 */
public record AllocationTask(String taskId, long specVersion, TaskPlacement placement, Set<String> runningOn) {
    public AllocationTask {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(placement, "placement");
        runningOn = Set.copyOf(runningOn);
    }

    /** An ANY task with no run in flight. */
    public static AllocationTask of(String taskId, long specVersion) {
        return new AllocationTask(taskId, specVersion, TaskPlacement.any(), Set.of());
    }

    public AllocationTask withPlacement(TaskPlacement newPlacement) {
        return new AllocationTask(taskId, specVersion, newPlacement, runningOn);
    }

    public AllocationTask withRunningOn(Set<String> agents) {
        return new AllocationTask(taskId, specVersion, placement, agents);
    }
}
