package io.cloudtask.controlplane.cluster;

/**
 * How an operator has set an agent aside. Cordoned: it takes no new task and keeps those it has.
 * Draining: cordoned, and its tasks move to other agents (except a task with a run in flight
 * there, which moves once the run ends).
 */
public record AgentFlags(boolean cordoned, boolean draining) {
    public static final AgentFlags NONE = new AgentFlags(false, false);
}
