package io.cloudtask.controlplane.allocation;

import static io.cloudtask.controlplane.allocation.Scenarios.NOW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The allocator on small, readable clusters; {@link AllocatorPropertiesTest} covers the general case. */
class AllocatorTest {
    private final Allocator allocator = new Allocator();

    private static List<AllocationTask> tasks(int count) {
        return IntStream.range(0, count)
                .mapToObj(i -> AllocationTask.of(UUID.nameUUIDFromBytes(("task-" + i).getBytes()).toString(), 1))
                .toList();
    }

    private static List<AgentState> agents(String... ids) {
        return List.of(ids).stream().map(AgentState::of).toList();
    }

    private Allocation allocate(List<AllocationTask> tasks, List<AgentState> agents, Map<String, List<String>> previous) {
        return allocator.allocate(new AllocationInput(tasks, agents, previous, NOW, AllocatorOptions.defaults()));
    }

    private static Move move(String task, String from, String to, MoveReason reason) {
        return new Move(task, Optional.ofNullable(from), Optional.ofNullable(to), reason);
    }

    @Test
    void placesEveryTaskOnExactlyOneAgentEvenlyAndReportsThemAsNew() {
        Allocation allocation = allocate(tasks(1000), agents("a", "b", "c"), Map.of());
        assertThat(allocation.agentsByTask()).hasSize(1000).allSatisfy((task, agents) -> assertThat(agents).hasSize(1));
        assertThat(allocation.tasksByAgent().values()).allSatisfy(assigned -> assertThat(assigned.size()).isBetween(333, 334));
        assertThat(allocation.moveCounts()).isEqualTo(Map.of(MoveReason.NEW_TASK, 1000));
        assertThat(allocation.tasksOf("a")).isSorted();
        assertThat(allocation.at()).isEqualTo(NOW);
    }

    @Test
    void givesAnAgentTasksInProportionToItsCapacity() {
        List<AgentState> agents = List.of(AgentState.of("small"), AgentState.of("large").withCapacity(3));
        Allocation allocation = allocate(tasks(400), agents, Map.of());
        assertThat(allocation.tasksOf("small")).hasSize(100);
        assertThat(allocation.tasksOf("large")).hasSize(300);
    }

    @Test
    void movesNothingWhenNothingChangedAndAnEditOfTheSpecMovesNothingEither() {
        List<AllocationTask> tasks = tasks(50);
        Allocation first = allocate(tasks, agents("a", "b"), Map.of());
        List<AllocationTask> edited = tasks.stream().map(task -> AllocationTask.of(task.taskId(), 2)).toList();
        Allocation again = allocate(edited, agents("a", "b"), first.tasksByAgent());
        assertThat(again.tasksByAgent()).isEqualTo(first.tasksByAgent());
        assertThat(again.moves()).isEmpty();
    }

    @Test
    void movesOnlyTheDeadAgentsTasksAndSaysTheAgentLeft() {
        List<AllocationTask> tasks = tasks(600);
        Allocation before = allocate(tasks, agents("a", "b", "c"), Map.of());
        Allocation after = allocate(tasks, List.of(AgentState.of("a"), AgentState.of("b").withAlive(false),
                AgentState.of("c")), before.tasksByAgent());
        assertThat(after.tasksByAgent()).containsOnlyKeys("a", "c");
        assertThat(after.tasksOf("a")).containsAll(before.tasksOf("a")).hasSize(300);
        assertThat(after.tasksOf("c")).containsAll(before.tasksOf("c")).hasSize(300);
        assertThat(after.moves()).hasSize(200).allSatisfy(move -> {
            assertThat(move.from()).contains("b");
            assertThat(move.reason()).isEqualTo(MoveReason.AGENT_LEFT);
        });
    }

    @Test
    void aJoiningAgentTakesItsShareFromTheOthersAndNoMore() {
        List<AllocationTask> tasks = tasks(1200);
        Allocation before = allocate(tasks, agents("a", "b", "c"), Map.of());
        Allocation after = allocate(tasks, agents("a", "b", "c", "d"), before.tasksByAgent());
        assertThat(after.tasksOf("d")).hasSize(300);
        assertThat(after.tasksByAgent().values()).allSatisfy(assigned -> assertThat(assigned).hasSize(300));
        assertThat(after.moves()).hasSize(300)
                .allSatisfy(move -> assertThat(move.to()).contains("d"))
                .allSatisfy(move -> assertThat(move.reason()).isEqualTo(MoveReason.REBALANCE_JOIN));
    }

    @Test
    void aJoiningAgentOnlyReceivesNewTasksWhenRebalancingIsOff() {
        List<AllocationTask> tasks = new ArrayList<>(tasks(30));
        Allocation before = allocate(tasks, agents("a", "b"), Map.of());
        tasks.add(AllocationTask.of("new-task", 1));
        Allocation after = allocator.allocate(new AllocationInput(tasks, agents("a", "b", "c"), before.tasksByAgent(),
                NOW, new AllocatorOptions(false)));
        assertThat(after.tasksOf("c")).containsExactly("new-task");
        assertThat(after.moves()).containsExactly(move("new-task", null, "c", MoveReason.NEW_TASK));
    }

    @Test
    void aCordonedAgentGivesUpItsTasksExceptOneWhoseRunIsInFlight() {
        List<AllocationTask> tasks = tasks(6);
        Allocation before = allocate(tasks, agents("a", "b"), Map.of());
        String running = before.tasksOf("a").get(0);
        List<AllocationTask> withRun = tasks.stream()
                .map(task -> task.taskId().equals(running) ? task.withRunningOn(Set.of("a")) : task)
                .toList();
        List<AgentState> cordoned = List.of(AgentState.of("a").withCordoned(true), AgentState.of("b"));

        Allocation during = allocate(withRun, cordoned, before.tasksByAgent());
        assertThat(during.tasksOf("a")).containsExactly(running);
        assertThat(during.tasksOf("b")).hasSize(5);
        assertThat(during.moveCounts()).isEqualTo(Map.of(MoveReason.AGENT_CORDONED, 2));

        Allocation afterRun = allocate(tasks, cordoned, during.tasksByAgent());
        assertThat(afterRun.tasksOf("a")).isEmpty();
        assertThat(afterRun.moves()).containsExactly(move(running, "a", "b", MoveReason.AGENT_CORDONED));
    }

    @Test
    void aTaskRunningOnADeadAgentMovesAtOnce() {
        AllocationTask task = AllocationTask.of("t", 1).withRunningOn(Set.of("a"));
        Allocation after = allocate(List.of(task), List.of(AgentState.of("a").withAlive(false), AgentState.of("b")),
                Map.of("a", List.of("t")));
        assertThat(after.moves()).containsExactly(move("t", "a", "b", MoveReason.AGENT_LEFT));
    }

    @Test
    void aNamedPlacementMatchesAgentIdsExactlyAndHostNamesInAnyCase() {
        List<AgentState> agents = List.of(
                new AgentState("agent-1", "web-01.example", Map.of(), 1, false, true),
                new AgentState("agent-2", "db-01.example", Map.of(), 1, false, true),
                new AgentState("agent-3", "batch-01.example", Map.of(), 1, false, true));
        List<AllocationTask> tasks = List.of(
                AllocationTask.of("by-id", 1).withPlacement(TaskPlacement.named(List.of("agent-2"))),
                AllocationTask.of("by-host", 1).withPlacement(TaskPlacement.named(List.of("BATCH-01.example"))),
                AllocationTask.of("id-is-exact", 1).withPlacement(TaskPlacement.named(List.of("AGENT-1"))));
        Allocation allocation = allocate(tasks, agents, Map.of());
        assertThat(allocation.tasksOf("agent-2")).containsExactly("by-id");
        assertThat(allocation.tasksOf("agent-3")).containsExactly("by-host");
        assertThat(allocation.unassigned()).containsExactly(new Unassigned("id-is-exact", UnassignedReason.NO_MATCHING_AGENT));
    }

    @Test
    void aLabelSelectorPlacesOnlyOnAgentsMatchingAllItsRequirements() {
        List<AgentState> agents = List.of(
                AgentState.of("win-a").withLabels(Map.of("os", "windows", "zone", "a")),
                AgentState.of("win-b").withLabels(Map.of("os", "windows", "zone", "b")),
                AgentState.of("linux-a").withLabels(Map.of("os", "linux", "zone", "a")));
        List<AllocationTask> tasks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            tasks.add(AllocationTask.of("win-" + i, 1).withPlacement(TaskPlacement.labels("os=windows,zone!=b")));
        }
        Allocation allocation = allocate(tasks, agents, Map.of());
        assertThat(allocation.tasksOf("win-a")).hasSize(20);
        assertThat(allocation.tasksOf("win-b")).isEmpty();
        assertThat(allocation.tasksOf("linux-a")).isEmpty();
    }

    @Test
    void aTaskWhoseAgentNoLongerMatchesMovesBecauseTheConstraintChanged() {
        List<AgentState> agents = List.of(AgentState.of("a").withLabels(Map.of("zone", "a")),
                AgentState.of("b").withLabels(Map.of("zone", "b")));
        AllocationTask task = AllocationTask.of("t", 1).withPlacement(TaskPlacement.labels("zone=a"));
        Allocation before = allocate(List.of(task), agents, Map.of());
        assertThat(before.tasksOf("a")).containsExactly("t");
        Allocation after = allocate(List.of(task.withPlacement(TaskPlacement.labels("zone=b"))), agents,
                before.tasksByAgent());
        assertThat(after.moves()).containsExactly(move("t", "a", "b", MoveReason.CONSTRAINT_CHANGED));
    }

    @Test
    void aBroadcastTaskRunsOnEveryMatchingAgentAndFollowsJoinsAndLeaves() {
        List<AgentState> agents = new ArrayList<>(List.of(
                AgentState.of("l1").withLabels(Map.of("os", "linux")),
                AgentState.of("l2").withLabels(Map.of("os", "linux")),
                AgentState.of("w1").withLabels(Map.of("os", "windows"))));
        AllocationTask everywhere = AllocationTask.of("all", 1).withPlacement(TaskPlacement.broadcast());
        AllocationTask linux = AllocationTask.of("linux", 1).withPlacement(TaskPlacement.broadcast("os=linux"));
        Allocation before = allocate(List.of(everywhere, linux), agents, Map.of());
        assertThat(before.agentsByTask()).isEqualTo(Map.of("all", List.of("l1", "l2", "w1"), "linux", List.of("l1", "l2")));

        agents.set(1, agents.get(1).withAlive(false));
        agents.add(AgentState.of("l3").withLabels(Map.of("os", "linux")));
        Allocation after = allocate(List.of(everywhere, linux), agents, before.tasksByAgent());
        assertThat(after.agentsByTask()).isEqualTo(Map.of("all", List.of("l1", "l3", "w1"), "linux", List.of("l1", "l3")));
        assertThat(after.moves()).containsExactly(
                move("all", "l2", null, MoveReason.AGENT_LEFT),
                move("all", null, "l3", MoveReason.BROADCAST_MATCHED),
                move("linux", "l2", null, MoveReason.AGENT_LEFT),
                move("linux", null, "l3", MoveReason.BROADCAST_MATCHED));
    }

    @Test
    void saysWhyATaskCannotBePlaced() {
        AllocationTask any = AllocationTask.of("any", 1);
        AllocationTask gpu = AllocationTask.of("gpu", 1).withPlacement(TaskPlacement.labels("gpu"));
        assertThat(allocate(List.of(any), List.of(), Map.of()).unassigned())
                .containsExactly(new Unassigned("any", UnassignedReason.NO_LIVE_AGENT));
        assertThat(allocate(List.of(gpu), agents("a"), Map.of()).unassigned())
                .containsExactly(new Unassigned("gpu", UnassignedReason.NO_MATCHING_AGENT));
        assertThat(allocate(List.of(any), List.of(AgentState.of("a").withCordoned(true)), Map.of()).unassigned())
                .containsExactly(new Unassigned("any", UnassignedReason.MATCHING_AGENTS_CORDONED));
    }

    @Test
    void aTaskLeftOnTwoAgentsByAnInterruptedPublicationKeepsOneCopy() {
        Allocation allocation = allocate(List.of(AllocationTask.of("t", 1)), agents("a", "b"),
                Map.of("a", List.of("t"), "b", List.of("t")));
        assertThat(allocation.agentsByTask().get("t")).hasSize(1);
        assertThat(allocation.moves()).singleElement().satisfies(move -> {
            assertThat(move.to()).isEmpty();
            assertThat(move.reason()).isEqualTo(MoveReason.DUPLICATE);
        });
    }

    @Test
    void rejectsAnInputThatNamesATaskOrAnAgentTwice() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> allocate(List.of(AllocationTask.of("t", 1), AllocationTask.of("t", 2)), agents("a"), Map.of()))
                .withMessage("task t appears twice in the allocation input");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> allocate(List.of(), agents("a", "a"), Map.of()))
                .withMessage("agent a appears twice in the allocation input");
    }
}
