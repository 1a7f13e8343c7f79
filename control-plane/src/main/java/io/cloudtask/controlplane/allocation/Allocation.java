package io.cloudtask.controlplane.allocation;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The allocator's answer.
 *
 * @param at the input's {@code now}
 * @param tasksByAgent every live agent (cordoned ones included) → its task ids, sorted; an agent
 *     with nothing to run maps to an empty list. A broadcast task appears under each of its agents.
 * @param moves what changed relative to the previous allocation, ordered by task id
 * @param unassigned tasks on no agent, ordered by task id
 */
public record Allocation(Instant at, SortedMap<String, List<String>> tasksByAgent, List<Move> moves,
        List<Unassigned> unassigned) {
    public Allocation {
        tasksByAgent = Collections.unmodifiableSortedMap(new TreeMap<>(tasksByAgent));
        moves = List.copyOf(moves);
        unassigned = List.copyOf(unassigned);
    }

    /** The task ids of one agent, sorted; empty for an agent that is not live. */
    public List<String> tasksOf(String agentId) {
        return tasksByAgent.getOrDefault(agentId, List.of());
    }

    /** Task id → the agents it is on (one, except for broadcast tasks), in agent id order. */
    public Map<String, List<String>> agentsByTask() {
        Map<String, List<String>> owners = new TreeMap<>();
        tasksByAgent.forEach((agent, tasks) -> tasks.forEach(
                task -> owners.computeIfAbsent(task, t -> new ArrayList<>()).add(agent)));
        return owners;
    }

    /** How many moves each reason caused; reasons that caused none are absent. */
    public Map<MoveReason, Integer> moveCounts() {
        Map<MoveReason, Integer> counts = new EnumMap<>(MoveReason.class);
        moves.forEach(move -> counts.merge(move.reason(), 1, Integer::sum));
        return counts;
    }

    /** How many tasks each reason left unassigned; reasons that left none are absent. */
    public Map<UnassignedReason, Integer> unassignedCounts() {
        Map<UnassignedReason, Integer> counts = new EnumMap<>(UnassignedReason.class);
        unassigned.forEach(task -> counts.merge(task.reason(), 1, Integer::sum));
        return counts;
    }
}
