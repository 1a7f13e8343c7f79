package io.cloudtask.controlplane.allocation;

import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Everything the allocator decides from. Order carries no meaning: the same tasks, agents and
 * previous allocation in any order give the same {@link Allocation}.
 *
 * @param tasks the live tasks of one cluster; ids are distinct
 * @param agents the agents known to be alive, and optionally dead ones ({@code alive=false});
 *     ids are distinct. An agent named only in {@code previous} counts as dead.
 * @param previous the allocation in force: agent id → task ids (typically the last
 *     {@link Allocation#tasksByAgent()}, or what the agents were last told). Unknown tasks are ignored.
 * @param now the current instant, carried into {@link Allocation#at()}
 * @param options stability and balance options
 */
public record AllocationInput(List<AllocationTask> tasks, List<AgentState> agents,
        Map<String, ? extends Collection<String>> previous, Instant now, AllocatorOptions options) {
    public AllocationInput {
        tasks = List.copyOf(tasks);
        agents = List.copyOf(agents);
        previous = Map.copyOf(previous);
        Objects.requireNonNull(now, "now");
        Objects.requireNonNull(options, "options");
        Set<String> seen = new HashSet<>();
        for (AllocationTask task : tasks) {
            if (!seen.add(task.taskId())) {
                throw new IllegalArgumentException("task " + task.taskId() + " appears twice in the allocation input");
            }
        }
        seen.clear();
        for (AgentState agent : agents) {
            if (!seen.add(agent.id())) {
                throw new IllegalArgumentException("agent " + agent.id() + " appears twice in the allocation input");
            }
        }
    }
}
