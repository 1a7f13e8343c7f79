package io.cloudtask.controlplane.allocation;

/** Why a task is on no agent. */
public enum UnassignedReason {
    /** The cluster has no live agent at all. */
    NO_LIVE_AGENT,
    /** No live agent satisfies the task's placement. */
    NO_MATCHING_AGENT,
    /** Live agents satisfy the placement, but all of them are cordoned. */
    MATCHING_AGENTS_CORDONED
}
