package io.cloudtask.controlplane.task;

import java.util.Collection;
import java.util.Map;
import java.util.UUID;

/**
 * What the task feature needs from task packages (implemented by the {@code pkg} feature, which
 * owns the package tables): the current package of tasks, for views and agent specs, and copying
 * it when a task is cloned. Implementations are thread-safe and take part in the caller's
 * transaction when there is one.
 */
public interface TaskPackages {
    /** The current package of each given task that has one; tasks without a package are absent. */
    Map<UUID, CurrentPackage> currentOf(Collection<UUID> taskIds);

    /**
     * Gives {@code toTaskId} (a task just created in the caller's transaction) the current package
     * of {@code fromTaskId}, as its package version 1; nothing when the source has no package.
     */
    void copyCurrent(UUID fromTaskId, UUID toTaskId);
}
