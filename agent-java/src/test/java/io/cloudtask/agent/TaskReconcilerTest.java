package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.spec.SpecCache;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskReconcilerTest {
    @TempDir
    Path specDir;

    private final List<Map<String, TaskSpec>> published = new ArrayList<>();
    private final List<Map<String, java.time.Instant>> handOvers = new ArrayList<>();
    private final List<Collection<String>> requested = new ArrayList<>();

    @Test
    void requestsMissingAndOutdatedSpecsAndFiresCachedOnes() {
        SpecCache cache = new SpecCache(specDir);
        cache.put(TestSpecs.cron("a", 1, TestSpecs.EVERY_SECOND).build());
        cache.put(TestSpecs.cron("b", 2, TestSpecs.EVERY_SECOND).build());
        TaskReconciler reconciler = reconciler(cache);

        reconciler.applyAssignment(assignment(1, "a", 1, "b", 3, "c", 1));

        assertThat(requested).singleElement().satisfies(ids -> assertThat(ids).containsExactlyInAnyOrder("b", "c"));
        assertThat(last().keySet()).containsExactlyInAnyOrder("a", "b");
    }

    @Test
    void onlyATaskThatMovedFromAnotherAgentHasAHandOverGapAndNoFireBeforeItsAssignmentReplays() {
        SpecCache cache = new SpecCache(specDir);
        java.time.Instant created = java.time.Instant.parse("2030-01-01T09:00:00Z");
        java.time.Instant assigned = java.time.Instant.parse("2030-01-01T10:00:00Z");
        for (String id : List.of("moved", "new")) {
            cache.put(TestSpecs.cron(id, 1, TestSpecs.EVERY_SECOND)
                    .setVersionCreatedAt(io.cloudtask.schedule.Timestamps.of(created)).build());
        }
        TaskReconciler reconciler = reconciler(cache);

        reconciler.applyAssignment(Assignment.newBuilder().setEpoch(1)
                .addTasks(AssignedTask.newBuilder().setTaskId("moved").setSpecVersion(1)
                        .setAssignedAt(io.cloudtask.schedule.Timestamps.of(assigned)).setPreviousAgentId("agent-x"))
                .addTasks(AssignedTask.newBuilder().setTaskId("new").setSpecVersion(1)
                        .setAssignedAt(io.cloudtask.schedule.Timestamps.of(assigned))).build());

        assertThat(handOvers.get(handOvers.size() - 1))
                .containsExactly(Map.entry("moved", assigned.minus(io.cloudtask.agent.schedule.FirePlan.HAND_OVER_LOOKBACK)));
        assertThat(last().values()).allSatisfy(spec -> assertThat(
                io.cloudtask.schedule.Timestamps.toInstant(spec.getVersionCreatedAt())).isEqualTo(assigned));
    }

    @Test
    void ignoresAnAssignmentWithALowerEpoch() {
        TaskReconciler reconciler = reconciler(new SpecCache(specDir));

        assertThat(reconciler.applyAssignment(assignment(5, "a", 1))).isTrue();
        assertThat(reconciler.applyAssignment(assignment(4, "b", 1))).isFalse();
        assertThat(reconciler.applyAssignment(assignment(5, "a", 1))).as("the same epoch re-applies").isTrue();

        assertThat(reconciler.assignedTaskIds()).containsExactly("a");
        assertThat(reconciler.appliedEpoch()).hasValue(5);
    }

    @Test
    void dropsTasksThatLeaveTheAssignmentFromTheCacheAndTheDisk() {
        SpecCache cache = new SpecCache(specDir);
        TaskReconciler reconciler = reconciler(cache);
        reconciler.applyAssignment(assignment(1, "a", 1, "b", 1));
        reconciler.applySpecs(TaskSpecs.newBuilder()
                .addSpecs(TestSpecs.cron("a", 1, TestSpecs.EVERY_SECOND))
                .addSpecs(TestSpecs.cron("b", 1, TestSpecs.EVERY_SECOND))
                .addSpecs(TestSpecs.cron("stranger", 1, TestSpecs.EVERY_SECOND)).build());
        assertThat(last().keySet()).containsExactlyInAnyOrder("a", "b");

        reconciler.applyAssignment(assignment(2, "b", 1));

        assertThat(last().keySet()).containsExactly("b");
        assertThat(specDir.resolve("a.pb")).doesNotExist();
        assertThat(specDir.resolve("stranger.pb")).doesNotExist();
        SpecCache reloaded = new SpecCache(specDir);
        reloaded.load();
        assertThat(reloaded.snapshot().keySet()).containsExactly("b");
    }

    @Test
    void dropsSpecsTheControlPlaneReportsMissing() {
        SpecCache cache = new SpecCache(specDir);
        TaskReconciler reconciler = reconciler(cache);
        reconciler.applyAssignment(assignment(1, "a", 1));
        reconciler.applySpecs(TaskSpecs.newBuilder().addSpecs(TestSpecs.cron("a", 1, TestSpecs.EVERY_SECOND)).build());

        reconciler.applySpecs(TaskSpecs.newBuilder().addMissingTaskIds("a").build());

        assertThat(last()).isEmpty();
        assertThat(cache.get("a")).isEmpty();
    }

    private TaskReconciler reconciler(SpecCache cache) {
        return new TaskReconciler(cache, (specs, handOverFrom) -> {
            published.add(specs);
            handOvers.add(handOverFrom);
        }, requested::add);
    }

    private Map<String, TaskSpec> last() {
        return published.get(published.size() - 1);
    }

    /** taskId, version pairs. */
    private static Assignment assignment(long epoch, Object... tasks) {
        Assignment.Builder builder = Assignment.newBuilder().setEpoch(epoch);
        for (int i = 0; i < tasks.length; i += 2) {
            builder.addTasks(AssignedTask.newBuilder().setTaskId((String) tasks[i]).setSpecVersion((Integer) tasks[i + 1]));
        }
        return builder.build();
    }
}
