package io.cloudtask.controlplane.allocation;

import com.google.protobuf.CodedOutputStream;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.AssignmentPart;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides how a large assignment is split into parts (docs/cluster.md, "Splitting large
 * assignments"). Pure. Parts are sticky so that ZooKeeper writes stay proportional to what
 * changed: a task stays in the part it was in, new tasks fill the parts with the most room before
 * new parts are added, so a part whose tasks did not change is not rewritten. Everything is
 * packed afresh only when the parts have become too fragmented (more than twice the parts the
 * tasks need, plus one) or a part has outgrown the limit.
 */
final class AssignmentParts {
    /** Room kept in every part for its epoch, index and field tags. */
    private static final int PART_OVERHEAD = 32;

    private AssignmentParts() {}

    /**
     * The parts of {@code desired}, each at most {@code maxPartBytes} serialised.
     *
     * @param previous the parts as published (empty when the assignment was not split)
     * @param desired every task of the assignment, with its current spec version
     */
    static List<List<AssignedTask>> plan(List<List<AssignedTask>> previous, List<AssignedTask> desired, int maxPartBytes) {
        int budget = maxPartBytes - PART_OVERHEAD;
        if (budget <= 0) {
            throw new IllegalArgumentException("a part limit of " + maxPartBytes + " bytes leaves no room for tasks");
        }
        Map<String, AssignedTask> byId = new LinkedHashMap<>();
        long totalBytes = 0;
        for (AssignedTask task : desired) {
            byId.put(task.getTaskId(), task);
            totalBytes += size(task);
        }
        int needed = (int) Math.max(1, (totalBytes + budget - 1) / budget);
        List<List<AssignedTask>> parts = new ArrayList<>();
        List<Integer> bytes = new ArrayList<>();
        Set<String> placed = new HashSet<>();
        boolean overgrown = false;
        for (List<AssignedTask> before : previous) {
            List<AssignedTask> kept = new ArrayList<>();
            int partBytes = 0;
            for (AssignedTask task : before) {
                AssignedTask now = byId.get(task.getTaskId());
                if (now != null && placed.add(now.getTaskId())) {
                    kept.add(now);
                    partBytes += size(now);
                }
            }
            overgrown |= partBytes > budget;
            parts.add(kept);
            bytes.add(partBytes);
        }
        if (overgrown || parts.size() > 2 * needed + 1) {
            return pack(new ArrayList<>(byId.values()), budget);
        }
        List<AssignedTask> added = byId.values().stream().filter(task -> !placed.contains(task.getTaskId())).toList();
        // Fill the roomiest parts first: few parts absorb the new tasks, the rest stay untouched.
        List<Integer> byRoom = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            byRoom.add(i);
        }
        byRoom.sort(Comparator.comparingInt((Integer i) -> bytes.get(i)).thenComparingInt(i -> i));
        int next = 0;
        for (int index : byRoom) {
            while (next < added.size() && bytes.get(index) + size(added.get(next)) <= budget) {
                parts.get(index).add(added.get(next));
                bytes.set(index, bytes.get(index) + size(added.get(next)));
                next++;
            }
        }
        parts.addAll(pack(added.subList(next, added.size()), budget));
        while (!parts.isEmpty() && parts.get(parts.size() - 1).isEmpty()) {
            parts.remove(parts.size() - 1);
        }
        return parts;
    }

    /** Consecutive runs of tasks, each within the budget. */
    private static List<List<AssignedTask>> pack(List<AssignedTask> tasks, int budget) {
        List<List<AssignedTask>> parts = new ArrayList<>();
        List<AssignedTask> current = new ArrayList<>();
        int currentBytes = 0;
        for (AssignedTask task : tasks) {
            int taskBytes = size(task);
            if (!current.isEmpty() && currentBytes + taskBytes > budget) {
                parts.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(task);
            currentBytes += taskBytes;
        }
        if (!current.isEmpty()) {
            parts.add(current);
        }
        return parts;
    }

    /** The bytes a task takes in a part: the message, its field tag and length. */
    static int size(AssignedTask task) {
        return CodedOutputStream.computeMessageSize(AssignmentPart.TASKS_FIELD_NUMBER, task);
    }
}
