package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.AssignmentPart;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class AssignmentPartsTest {
    private static final int LIMIT = 4096;
    private static final int SEEDS = Integer.getInteger("assignment.parts.seeds", 200);

    private static AssignedTask task(Random random, long version) {
        return AssignedTask.newBuilder().setTaskId(new UUID(random.nextLong(), random.nextLong()).toString())
                .setSpecVersion(version).build();
    }

    private static List<AssignedTask> tasks(Random random, int count) {
        return new ArrayList<>(IntStream.range(0, count).mapToObj(i -> task(random, 1 + random.nextInt(1000))).toList());
    }

    private static void assertValid(List<List<AssignedTask>> parts, List<AssignedTask> desired) {
        List<AssignedTask> all = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            AssignmentPart part = AssignmentPart.newBuilder().setEpoch(Long.MAX_VALUE).setIndex(i)
                    .addAllTasks(parts.get(i)).build();
            assertThat(part.getSerializedSize()).isLessThanOrEqualTo(LIMIT);
            all.addAll(parts.get(i));
        }
        assertThat(all).hasSameSizeAs(desired).containsExactlyInAnyOrderElementsOf(desired);
        if (!parts.isEmpty()) {
            assertThat(parts.get(parts.size() - 1)).isNotEmpty();
        }
    }

    private static int changedParts(List<List<AssignedTask>> before, List<List<AssignedTask>> after) {
        int changed = 0;
        for (int i = 0; i < after.size(); i++) {
            if (i >= before.size() || !before.get(i).equals(after.get(i))) {
                changed++;
            }
        }
        return changed;
    }

    @Test
    void everyTaskIsInExactlyOnePartAndEveryPartStaysWithinTheLimit() {
        for (int seed = 0; seed < SEEDS; seed++) {
            Random random = new Random(seed);
            List<AssignedTask> desired = tasks(random, random.nextInt(2000));
            List<List<AssignedTask>> parts = AssignmentParts.plan(List.of(), desired, LIMIT);
            assertValid(parts, desired);

            // Any later change: some tasks leave, some arrive, some change version.
            List<AssignedTask> next = new ArrayList<>();
            for (AssignedTask task : desired) {
                int roll = random.nextInt(10);
                if (roll == 0) {
                    continue;
                }
                next.add(roll == 1 ? task.toBuilder().setSpecVersion(task.getSpecVersion() + 100_000).build() : task);
            }
            next.addAll(tasks(random, random.nextInt(500)));
            assertValid(AssignmentParts.plan(parts, next, LIMIT), next);
        }
    }

    @Test
    void nothingChangedRewritesNoPart() {
        Random random = new Random(7);
        List<AssignedTask> desired = tasks(random, 3000);
        List<List<AssignedTask>> parts = AssignmentParts.plan(List.of(), desired, LIMIT);
        assertThat(parts.size()).isGreaterThan(10);

        List<AssignedTask> shuffled = new ArrayList<>(desired);
        java.util.Collections.shuffle(shuffled, random);
        assertThat(AssignmentParts.plan(parts, shuffled, LIMIT)).isEqualTo(parts);
    }

    @Test
    void addingTasksRewritesOnlyAsManyPartsAsTheyFill() {
        for (int seed = 0; seed < SEEDS; seed++) {
            Random random = new Random(seed);
            List<AssignedTask> desired = tasks(random, 3000 + random.nextInt(1000));
            List<List<AssignedTask>> parts = AssignmentParts.plan(List.of(), desired, LIMIT);
            List<AssignedTask> added = tasks(random, 1 + random.nextInt(100));
            List<AssignedTask> next = new ArrayList<>(desired);
            next.addAll(added);

            List<List<AssignedTask>> after = AssignmentParts.plan(parts, next, LIMIT);

            assertValid(after, next);
            int addedBytes = added.stream().mapToInt(AssignmentParts::size).sum();
            // The roomiest parts first, then new ones: at most one part more than the bytes need.
            assertThat(changedParts(parts, after)).isLessThanOrEqualTo(addedBytes / (LIMIT / 2) + 2);
        }
    }

    @Test
    void removingTasksRewritesOnlyThePartsThatHeldThem() {
        Random random = new Random(11);
        List<AssignedTask> desired = tasks(random, 4000);
        List<List<AssignedTask>> parts = AssignmentParts.plan(List.of(), desired, LIMIT);
        Set<AssignedTask> removed = new HashSet<>(parts.get(3).subList(0, 5));
        removed.addAll(parts.get(8).subList(0, 1));

        List<List<AssignedTask>> after = AssignmentParts.plan(parts,
                desired.stream().filter(task -> !removed.contains(task)).toList(), LIMIT);

        assertThat(changedParts(parts, after)).isEqualTo(2);
        assertThat(after).hasSameSizeAs(parts);
    }

    @Test
    void fragmentedPartsArePackedAfresh() {
        Random random = new Random(13);
        List<AssignedTask> desired = tasks(random, 4000);
        List<List<AssignedTask>> parts = AssignmentParts.plan(List.of(), desired, LIMIT);
        // Keep one task of each part: many near-empty parts.
        List<AssignedTask> survivors = parts.stream().map(part -> part.get(0)).toList();

        List<List<AssignedTask>> after = AssignmentParts.plan(parts, survivors, LIMIT);

        assertValid(after, survivors);
        assertThat(after).hasSizeLessThan(parts.size() / 4);
    }
}
