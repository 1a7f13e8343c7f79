package io.cloudtask.controlplane.allocation;

import java.util.Objects;
import java.util.Optional;

/**
 * One change of a task's agents. A relocation has both ends; a task placed for the first time (or
 * a broadcast copy added) has no {@code from}; a task that lost its agent without getting another
 * (it is then unassigned, or a broadcast copy was dropped) has no {@code to}.
 */
public record Move(String taskId, Optional<String> from, Optional<String> to, MoveReason reason) {
    public Move {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        Objects.requireNonNull(reason, "reason");
        if (from.isEmpty() && to.isEmpty()) {
            throw new IllegalArgumentException("a move of task " + taskId + " needs a source or a destination");
        }
    }

    /** Whether the task left one agent for another. */
    public boolean isRelocation() {
        return from.isPresent() && to.isPresent();
    }

    @Override
    public String toString() {
        return taskId + ": " + from.orElse("-") + " -> " + to.orElse("-") + " (" + reason + ")";
    }
}
