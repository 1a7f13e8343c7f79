package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/** Checks that hold for every allocation, whatever the input. */
final class AllocationChecks {
    private AllocationChecks() {}

    /**
     * Every task is where it may be, every single-agent task that can be placed is placed exactly
     * once, broadcast tasks are on exactly their agents, and the moves and unassigned tasks say
     * precisely what changed.
     */
    static void assertValid(AllocationInput input, Allocation allocation) {
        Map<String, AgentState> live = new HashMap<>();
        input.agents().stream().filter(AgentState::alive).forEach(agent -> live.put(agent.id(), agent));
        assertThat(allocation.tasksByAgent().keySet()).isEqualTo(new TreeSet<>(live.keySet()));
        assertThat(allocation.at()).isEqualTo(input.now());

        Map<String, Set<String>> previousOwners = new HashMap<>();
        input.previous().forEach((agent, taskIds) -> taskIds.forEach(
                taskId -> previousOwners.computeIfAbsent(taskId, t -> new TreeSet<>()).add(agent)));
        Map<String, List<String>> owners = allocation.agentsByTask();
        Map<String, UnassignedReason> unassigned = allocation.unassigned().stream()
                .collect(Collectors.toMap(Unassigned::taskId, Unassigned::reason));
        Map<String, List<Move>> movesByTask = allocation.moves().stream().collect(Collectors.groupingBy(Move::taskId));
        Set<String> taskIds = input.tasks().stream().map(AllocationTask::taskId).collect(Collectors.toSet());
        assertThat(taskIds).containsAll(owners.keySet());

        for (AllocationTask task : input.tasks()) {
            String id = task.taskId();
            Set<String> eligible = new TreeSet<>();
            boolean anyLiveMatch = false;
            for (AgentState agent : live.values()) {
                if (task.placement().admits(agent)) {
                    anyLiveMatch = true;
                    if (!agent.cordoned()) {
                        eligible.add(agent.id());
                    }
                }
            }
            Set<String> before = previousOwners.getOrDefault(id, Set.of());
            Set<String> pinnedTo = new TreeSet<>(before);
            pinnedTo.retainAll(task.runningOn());
            pinnedTo.retainAll(live.keySet());
            Set<String> after = new TreeSet<>(owners.getOrDefault(id, List.of()));

            if (task.placement().isBroadcast()) {
                Set<String> expected = new TreeSet<>(eligible);
                expected.addAll(pinnedTo);
                assertThat(after).as("agents of broadcast task %s", id).isEqualTo(expected);
            } else {
                assertThat(after).as("agents of task %s", id).hasSizeLessThanOrEqualTo(1);
                if (!pinnedTo.isEmpty()) {
                    assertThat(pinnedTo).as("agents running task %s", id).containsAll(after).isNotEmpty();
                    assertThat(after).isNotEmpty();
                } else if (!eligible.isEmpty()) {
                    assertThat(eligible).as("eligible agents of task %s", id).containsAll(after);
                    assertThat(after).as("agents of placeable task %s", id).hasSize(1);
                }
            }
            if (after.isEmpty()) {
                assertThat(eligible).isEmpty();
                UnassignedReason reason = live.isEmpty() ? UnassignedReason.NO_LIVE_AGENT
                        : anyLiveMatch ? UnassignedReason.MATCHING_AGENTS_CORDONED : UnassignedReason.NO_MATCHING_AGENT;
                assertThat(unassigned.get(id)).as("why %s is unassigned", id).isEqualTo(reason);
            } else {
                assertThat(unassigned).doesNotContainKey(id);
            }

            List<Move> moves = movesByTask.getOrDefault(id, List.of());
            Set<String> left = new TreeSet<>(before);
            left.removeAll(after);
            Set<String> arrived = new TreeSet<>(after);
            arrived.removeAll(before);
            assertThat(moves.stream().flatMap(move -> move.from().stream()).collect(Collectors.toSet()))
                    .as("agents %s left", id).isEqualTo(left);
            assertThat(moves.stream().flatMap(move -> move.to().stream()).collect(Collectors.toSet()))
                    .as("agents %s reached", id).isEqualTo(arrived);
            for (Move move : moves) {
                move.from().ifPresent(from -> assertThat(move.reason()).as("reason of %s", move)
                        .isEqualTo(expectedReasonToLeave(live.get(from), task, move.reason())));
                if (move.reason() == MoveReason.DUPLICATE) {
                    assertThat(before).as("agents %s was on", id).hasSizeGreaterThan(1);
                    assertThat(after).as("agents %s is on", id).hasSize(1);
                }
                if (move.from().isEmpty() && before.isEmpty()) {
                    assertThat(move.reason()).isEqualTo(MoveReason.NEW_TASK);
                }
            }
        }
    }

    private static MoveReason expectedReasonToLeave(AgentState from, AllocationTask task, MoveReason given) {
        if (from == null) {
            return MoveReason.AGENT_LEFT;
        }
        if (task.runningOn().contains(from.id())) {
            // It could have stayed there; it did not because another copy, also running, was kept.
            return MoveReason.DUPLICATE;
        }
        if (from.cordoned()) {
            return MoveReason.AGENT_CORDONED;
        }
        if (!task.placement().admits(from)) {
            return MoveReason.CONSTRAINT_CHANGED;
        }
        // Left an agent it could have stayed on: a duplicate dropped, or taken by a joiner.
        assertThat(given).isIn(MoveReason.DUPLICATE, MoveReason.REBALANCE_JOIN);
        return given;
    }

    /**
     * Each live, uncordoned agent holds its capacity-weighted share of the tasks within 10%, or
     * within one task where a share is so small that 10% is less than one task.
     */
    static void assertBalanced(List<AgentState> agents, Allocation allocation) {
        List<AgentState> takers = agents.stream().filter(agent -> agent.alive() && !agent.cordoned()).toList();
        int totalCapacity = takers.stream().mapToInt(AgentState::capacity).sum();
        int taskCount = takers.stream().mapToInt(agent -> allocation.tasksOf(agent.id()).size()).sum();
        for (AgentState agent : takers) {
            double share = (double) taskCount * agent.capacity() / totalCapacity;
            assertThat((double) allocation.tasksOf(agent.id()).size())
                    .as("tasks on %s (capacity %d of %d, %d tasks)", agent.id(), agent.capacity(), totalCapacity, taskCount)
                    .isBetween(share - Math.max(1, share * 0.1), share + Math.max(1, share * 0.1));
        }
    }
}
