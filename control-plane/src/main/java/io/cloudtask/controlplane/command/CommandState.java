package io.cloudtask.controlplane.command;

/**
 * Where a command is: PENDING (stored, not yet on a stream) → DELIVERED (sent to the agent; sent
 * again on the agent's next stream until answered) → ACCEPTED or REJECTED (the agent's answer), or
 * EXPIRED when no answer came before the command's time-to-live ran out.
 */
public enum CommandState {
    PENDING,
    DELIVERED,
    ACCEPTED,
    REJECTED,
    EXPIRED;

    /** Whether the command will not change any more. */
    public boolean isFinal() {
        return this == ACCEPTED || this == REJECTED || this == EXPIRED;
    }
}
