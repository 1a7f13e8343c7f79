package io.cloudtask.controlplane.task;

/**
 * Told after a task change has been committed, so allocations can be republished. Called on the
 * request thread; implementations must not block for long and must not throw.
 */
public interface TaskChangeListener {
    void tasksChanged(String cluster);
}
