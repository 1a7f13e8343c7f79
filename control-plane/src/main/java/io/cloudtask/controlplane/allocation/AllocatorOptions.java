package io.cloudtask.controlplane.allocation;

/**
 * How the allocator trades stability against balance.
 *
 * @param rebalanceOnJoin when true, an agent that joins (or comes back with no task) takes tasks
 *     from the busiest agents, at most ⌈T/N⌉+1 of them (T single-agent tasks, N agents that take
 *     work); when false it only receives new and displaced tasks
 */
public record AllocatorOptions(boolean rebalanceOnJoin) {
    private static final AllocatorOptions DEFAULTS = new AllocatorOptions(true);

    public static AllocatorOptions defaults() {
        return DEFAULTS;
    }
}
