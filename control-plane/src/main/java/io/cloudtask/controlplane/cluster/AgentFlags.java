package io.cloudtask.controlplane.cluster;

/**
 * How an operator has set an agent aside. Cordoned: it takes no new task and keeps those it has.
 * Draining: cordoned, and its tasks move to other agents. A task with a run in flight there moves
 * once the run ends when {@code waitsForRuns} (the default); otherwise it moves at once and the run
 * goes on to completion on the draining agent. {@code waitsForRuns} means nothing unless draining.
 */
public record AgentFlags(boolean cordoned, boolean draining, boolean waitsForRuns) {
    public static final AgentFlags NONE = new AgentFlags(false, false, true);

    /** Flags under which a draining agent waits for its runs in flight. */
    public AgentFlags(boolean cordoned, boolean draining) {
        this(cordoned, draining, true);
    }

    /** Whether the allocator should ignore this agent's runs in flight: it drains without waiting for them. */
    public boolean movesTasksWithRunsInFlight() {
        return draining && !waitsForRuns;
    }
}
