package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.task.TaskRef;
import io.cloudtask.proto.v1.AssignedTask;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PlacementTest {
    private static List<TaskRef> tasks(int count) {
        return IntStream.range(0, count)
                .mapToObj(i -> new TaskRef(UUID.nameUUIDFromBytes(("task-" + i).getBytes()).toString(), 1))
                .toList();
    }

    private static Map<String, String> ownerByTask(Map<String, List<AssignedTask>> placement) {
        Map<String, String> owners = new HashMap<>();
        placement.forEach((agent, assigned) -> assigned.forEach(task -> owners.put(task.getTaskId(), agent)));
        return owners;
    }

    @Test
    void placesEveryTaskOnExactlyOneLiveAgentDeterministically() {
        List<TaskRef> tasks = tasks(1000);
        Map<String, List<AssignedTask>> first = Placement.place(tasks, List.of("a", "b", "c"));
        Map<String, List<AssignedTask>> again = Placement.place(tasks, List.of("c", "a", "b"));
        assertThat(again).isEqualTo(first);
        assertThat(ownerByTask(first)).hasSize(1000);
        first.values().forEach(assigned -> assertThat(assigned.size()).isBetween(250, 420));
    }

    @Test
    void movesOnlyTheDeadAgentsTasks() {
        List<TaskRef> tasks = tasks(600);
        Map<String, String> before = ownerByTask(Placement.place(tasks, List.of("a", "b", "c")));
        Map<String, String> after = ownerByTask(Placement.place(tasks, List.of("a", "c")));
        before.forEach((task, owner) -> {
            if (!owner.equals("b")) {
                assertThat(after.get(task)).isEqualTo(owner);
            }
        });
        assertThat(Set.copyOf(after.values())).containsExactlyInAnyOrder("a", "c");
    }

    @Test
    void aJoiningAgentTakesAboutItsShare() {
        List<TaskRef> tasks = tasks(1200);
        Map<String, String> before = ownerByTask(Placement.place(tasks, List.of("a", "b", "c")));
        Map<String, String> after = ownerByTask(Placement.place(tasks, List.of("a", "b", "c", "d")));
        List<String> moved = new ArrayList<>();
        before.forEach((task, owner) -> {
            if (!after.get(task).equals(owner)) {
                moved.add(task);
                assertThat(after.get(task)).isEqualTo("d");
            }
        });
        assertThat(moved.size()).isBetween(200, 400);
    }

    @Test
    void leavesTasksUnplacedWithoutAgents() {
        assertThat(Placement.place(tasks(3), List.of())).isEmpty();
    }
}
