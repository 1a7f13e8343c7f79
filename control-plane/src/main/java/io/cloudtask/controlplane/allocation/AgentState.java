package io.cloudtask.controlplane.allocation;

import java.util.Map;
import java.util.Objects;

/**
 * An agent as the allocator sees it.
 *
 * @param id the agent id (its ZooKeeper node name)
 * @param hostname the host name, matched by {@link TaskPlacement.Kind#NAMED} placements; may be empty
 * @param labels labels matched by selectors
 * @param capacity the agent's weight: an agent of capacity 4 is meant to carry four times the
 *     tasks of an agent of capacity 1. At least 1.
 * @param cordoned a cordoned agent takes no new task; unless {@code keepsTasks}, it also gives up
 *     those it has (it is draining), except a task whose run is in flight there
 * @param alive whether its ZooKeeper session is up; a dead agent is treated as absent
 * @param keepsTasks for a cordoned agent: keep the tasks it has that it still matches (an
 *     operator's cordon) rather than give them up (a drain). Ignored when not cordoned.
 */
public record AgentState(String id, String hostname, Map<String, String> labels, int capacity, boolean cordoned,
        boolean alive, boolean keepsTasks) {
    public AgentState {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(hostname, "hostname");
        labels = Map.copyOf(labels);
        if (capacity < 1) {
            throw new IllegalArgumentException("agent " + id + ": capacity must be at least 1, got " + capacity);
        }
    }

    /** An agent that, if cordoned, gives up its tasks (is draining). */
    public AgentState(String id, String hostname, Map<String, String> labels, int capacity, boolean cordoned,
            boolean alive) {
        this(id, hostname, labels, capacity, cordoned, alive, false);
    }

    /** A live, uncordoned agent of capacity 1 without host name or labels. */
    public static AgentState of(String id) {
        return new AgentState(id, "", Map.of(), 1, false, true);
    }

    public AgentState withLabels(Map<String, String> newLabels) {
        return new AgentState(id, hostname, newLabels, capacity, cordoned, alive, keepsTasks);
    }

    public AgentState withCapacity(int newCapacity) {
        return new AgentState(id, hostname, labels, newCapacity, cordoned, alive, keepsTasks);
    }

    public AgentState withCordoned(boolean newCordoned) {
        return new AgentState(id, hostname, labels, capacity, newCordoned, alive, keepsTasks);
    }

    /** This agent cordoned so that it keeps the tasks it has: it only takes no new ones. */
    public AgentState cordonedKeepingTasks() {
        return new AgentState(id, hostname, labels, capacity, true, alive, true);
    }

    public AgentState withAlive(boolean newAlive) {
        return new AgentState(id, hostname, labels, capacity, cordoned, newAlive, keepsTasks);
    }
}
