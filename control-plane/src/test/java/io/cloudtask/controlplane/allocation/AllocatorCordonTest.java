package io.cloudtask.controlplane.allocation;

import static io.cloudtask.controlplane.allocation.Scenarios.NOW;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** An operator's cordon (keep tasks, take no new ones) as opposed to a drain (give them up). */
class AllocatorCordonTest {
    private final Allocator allocator = new Allocator();

    private static List<AllocationTask> tasks(String prefix, int count) {
        return IntStream.range(0, count)
                .mapToObj(i -> AllocationTask.of(UUID.nameUUIDFromBytes((prefix + i).getBytes()).toString(), 1))
                .toList();
    }

    private Allocation allocate(List<AllocationTask> tasks, List<AgentState> agents, Map<String, List<String>> previous) {
        return allocator.allocate(new AllocationInput(tasks, agents, previous, NOW, AllocatorOptions.defaults()));
    }

    @Test
    void aCordonedAgentKeepsItsTasksAndNewTasksGoElsewhere() {
        List<AllocationTask> old = tasks("old-", 6);
        Allocation before = allocate(old, List.of(AgentState.of("a"), AgentState.of("b")), Map.of());
        List<AgentState> cordoned = List.of(AgentState.of("a").cordonedKeepingTasks(), AgentState.of("b"));

        List<AllocationTask> more = new java.util.ArrayList<>(old);
        more.addAll(tasks("new-", 6));
        Allocation after = allocate(more, cordoned, before.tasksByAgent());

        assertThat(after.tasksOf("a")).isEqualTo(before.tasksOf("a"));
        assertThat(after.tasksOf("b")).hasSize(9);
        assertThat(after.moveCounts()).isEqualTo(Map.of(MoveReason.NEW_TASK, 6));
        assertThat(allocate(more, cordoned, after.tasksByAgent()).moves()).isEmpty();
    }

    @Test
    void aJoiningAgentTakesNothingFromACordonedAgent() {
        List<AllocationTask> tasks = tasks("t-", 8);
        Allocation before = allocate(tasks, List.of(AgentState.of("a")), Map.of());
        Allocation after = allocate(tasks, List.of(AgentState.of("a").cordonedKeepingTasks(), AgentState.of("b")),
                before.tasksByAgent());
        assertThat(after.tasksOf("a")).hasSize(8);
        assertThat(after.moves()).isEmpty();
    }

    @Test
    void aCordonedAgentKeepsItsBroadcastCopiesButGetsNoNewOnes() {
        AllocationTask everywhere = AllocationTask.of("b1", 1).withPlacement(TaskPlacement.broadcast());
        Allocation before = allocate(List.of(everywhere), List.of(AgentState.of("a"), AgentState.of("b")), Map.of());
        AllocationTask second = AllocationTask.of("b2", 1).withPlacement(TaskPlacement.broadcast());
        Allocation after = allocate(List.of(everywhere, second),
                List.of(AgentState.of("a").cordonedKeepingTasks(), AgentState.of("b")), before.tasksByAgent());
        assertThat(after.tasksOf("a")).containsExactly("b1");
        assertThat(after.tasksOf("b")).containsExactly("b1", "b2");
    }

    @Test
    void aDrainingAgentGivesUpItsTasksAsCordonedAlways() {
        List<AllocationTask> tasks = tasks("d-", 6);
        Allocation before = allocate(tasks, List.of(AgentState.of("a"), AgentState.of("b")), Map.of());
        Allocation after = allocate(tasks, List.of(AgentState.of("a").withCordoned(true), AgentState.of("b")),
                before.tasksByAgent());
        assertThat(after.tasksOf("a")).isEmpty();
        assertThat(after.tasksOf("b")).hasSize(6);
        assertThat(after.moveCounts()).isEqualTo(Map.of(MoveReason.AGENT_CORDONED, 3));
    }
}
