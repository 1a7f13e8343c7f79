package io.cloudtask.controlplane.allocation;

/** Why a task changed agents. */
public enum MoveReason {
    /** The task was on no agent before: it is new, or it was unassigned until now. */
    NEW_TASK,
    /** Its agent is dead or gone. */
    AGENT_LEFT,
    /** Its agent was cordoned and no run of the task is in flight there. */
    AGENT_CORDONED,
    /** Its agent no longer satisfies the task's placement (the placement or the agent's labels changed). */
    CONSTRAINT_CHANGED,
    /** Moved to an agent that joined, to even out the load. */
    REBALANCE_JOIN,
    /** A broadcast task gained an agent that now matches it (joined, uncordoned or relabelled). */
    BROADCAST_MATCHED,
    /**
     * The previous allocation had this single-agent task on more than one agent (a publication
     * interrupted half-way); the extra copies are dropped.
     */
    DUPLICATE
}
