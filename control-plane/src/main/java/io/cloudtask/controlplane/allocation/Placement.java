package io.cloudtask.controlplane.allocation;

import io.cloudtask.controlplane.task.TaskRef;
import io.cloudtask.proto.v1.AssignedTask;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Deterministic placement of tasks on live agents by rendezvous (highest-random-weight) hashing:
 * each task goes to the agent with the highest hash of (task, agent). Stable by construction:
 * with no change nothing moves, an agent leaving moves only its own tasks, and an agent joining
 * takes about 1/N of them. Pure: no ZooKeeper, database or clock.
 *
 * <p>This is the Foundation placement; the capacity-aware allocator with constraints and move
 * reasons replaces it behind the same inputs.
 */
final class Placement {
    private Placement() {}

    /**
     * Returns, for every live agent, its tasks sorted by task id (agents without tasks map to an
     * empty list). With no live agent every task stays unassigned.
     */
    static Map<String, List<AssignedTask>> place(List<TaskRef> tasks, Collection<String> liveAgents) {
        List<String> agents = new ArrayList<>(new TreeSet<>(liveAgents));
        Map<String, List<AssignedTask>> result = new HashMap<>();
        for (String agent : agents) {
            result.put(agent, new ArrayList<>());
        }
        if (agents.isEmpty()) {
            return result;
        }
        long[] agentSeeds = new long[agents.size()];
        for (int i = 0; i < agents.size(); i++) {
            agentSeeds[i] = fnv1a(agents.get(i));
        }
        for (TaskRef task : tasks) {
            long taskSeed = fnv1a(task.taskId());
            int best = 0;
            long bestWeight = Long.MIN_VALUE;
            for (int i = 0; i < agentSeeds.length; i++) {
                long weight = mix(taskSeed ^ mix(agentSeeds[i]));
                if (weight > bestWeight) {
                    bestWeight = weight;
                    best = i;
                }
            }
            result.get(agents.get(best)).add(AssignedTask.newBuilder()
                    .setTaskId(task.taskId())
                    .setSpecVersion(task.version())
                    .build());
        }
        result.values().forEach(list -> list.sort(Comparator.comparing(AssignedTask::getTaskId)));
        return result;
    }

    private static long fnv1a(String value) {
        long hash = 0xcbf29ce484222325L;
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    /** SplitMix64 finaliser: spreads the bits so weights of similar ids are independent. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
