package io.cloudtask.agent;

import io.cloudtask.agent.schedule.FirePlan;
import io.cloudtask.agent.spec.SpecCache;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns desired state (the applied Assignment and the cached specs) into what the scheduler fires
 * and which specs must be requested. Assignments with a lower epoch than the last applied one are
 * ignored. A task fires when it is assigned and its spec is cached, even if the cached version is
 * older than the assigned one: the newer spec is normally milliseconds away, and firing the old one
 * keeps the agent useful while the control plane is unreachable.
 *
 * <p>Not thread-safe: the agent calls it only from its reconcile thread ({@code cloudtask-reconcile});
 * only the read-only status accessors may be called from other threads.
 */
final class TaskReconciler {
    private static final Logger log = LoggerFactory.getLogger(TaskReconciler.class);

    private final SpecCache cache;
    private final BiConsumer<Map<String, TaskSpec>, Map<String, java.time.Instant>> scheduler;
    private final Consumer<Collection<String>> specRequester;
    // Written only on the reconcile thread; volatile so status accessors may read them anywhere.
    private volatile Map<String, Long> assigned = Map.of();
    /** When each assigned task was given to this agent, as the allocation says (may be absent). */
    private volatile Map<String, com.google.protobuf.Timestamp> assignedAt = Map.of();
    /** Tasks that another agent held before they were assigned here: they have a hand-over gap. */
    private volatile Set<String> moved = Set.of();
    private volatile boolean anyApplied;
    private volatile long lastEpoch;
    /** The last spec handed to the scheduler per task with its replay floor applied (reconcile thread only). */
    private final Map<String, Floored> floored = new HashMap<>();

    private record Floored(TaskSpec source, com.google.protobuf.Timestamp assignedAt, TaskSpec result) {}

    /**
     * @param scheduler receives the fireable specs and, per task, where its hand-over gap starts
     */
    TaskReconciler(SpecCache cache, BiConsumer<Map<String, TaskSpec>, Map<String, java.time.Instant>> scheduler,
            Consumer<Collection<String>> specRequester) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.specRequester = Objects.requireNonNull(specRequester, "specRequester");
    }

    /**
     * Applies an assignment unless its epoch is lower than the last applied one.
     *
     * @return whether it was applied
     */
    boolean applyAssignment(Assignment assignment) {
        if (anyApplied && Long.compareUnsigned(assignment.getEpoch(), lastEpoch) < 0) {
            log.info("ignoring assignment epoch {}: epoch {} is already applied",
                    Long.toUnsignedString(assignment.getEpoch()), Long.toUnsignedString(lastEpoch));
            return false;
        }
        Map<String, Long> tasks = new HashMap<>();
        Map<String, com.google.protobuf.Timestamp> since = new HashMap<>();
        Set<String> movedHere = new java.util.HashSet<>();
        for (AssignedTask task : assignment.getTasksList()) {
            tasks.put(task.getTaskId(), task.getSpecVersion());
            if (task.hasAssignedAt()) {
                since.put(task.getTaskId(), task.getAssignedAt());
            }
            if (!task.getPreviousAgentId().isEmpty()) {
                movedHere.add(task.getTaskId());
            }
        }
        boolean changed = !anyApplied || assignment.getEpoch() != lastEpoch || !tasks.equals(assigned);
        anyApplied = true;
        lastEpoch = assignment.getEpoch();
        assigned = Map.copyOf(tasks);
        assignedAt = Map.copyOf(since);
        moved = Set.copyOf(movedHere);
        if (changed) {
            log.info("applied assignment epoch {}: {} task(s)", Long.toUnsignedString(lastEpoch), assigned.size());
        }
        // Tasks that left the assignment stop firing now and their specs leave the disk.
        cache.retainOnly(assigned.keySet());
        publish();
        requestOutdatedSpecs();
        return true;
    }

    /** The task ids of the applied assignment (empty while none is published). */
    Set<String> assignedTaskIds() {
        return assigned.keySet();
    }

    /** The epoch of the last applied assignment, if any. */
    OptionalLong appliedEpoch() {
        return anyApplied ? OptionalLong.of(lastEpoch) : OptionalLong.empty();
    }

    /** The allocation node is absent: fire nothing, but keep the cache until an assignment says otherwise. */
    void assignmentMissing() {
        if (!assigned.isEmpty()) {
            log.info("no allocation published for this agent: not firing any task");
        }
        assigned = Map.of();
        publish();
    }

    /** Caches the specs of assigned tasks and drops the ones the control plane says no longer exist. */
    void applySpecs(TaskSpecs specs) {
        for (TaskSpec spec : specs.getSpecsList()) {
            if (assigned.containsKey(spec.getTaskId())) {
                cache.put(spec);
            } else {
                log.debug("ignoring the spec of task {}: not assigned to this agent", spec.getTaskId());
            }
        }
        for (String missing : specs.getMissingTaskIdsList()) {
            log.info("task {} no longer exists; dropping it", missing);
            cache.remove(missing);
        }
        publish();
    }

    /** Sends a SpecRequest for every assigned task whose spec is missing or of another version. */
    void requestOutdatedSpecs() {
        List<String> wanted = new ArrayList<>();
        assigned.forEach((taskId, version) -> {
            TaskSpec cached = cache.get(taskId).orElse(null);
            if (cached == null || cached.getVersion() != version) {
                wanted.add(taskId);
            }
        });
        if (!wanted.isEmpty()) {
            specRequester.accept(wanted);
        }
    }

    private void publish() {
        floored.keySet().retainAll(assigned.keySet());
        Map<String, TaskSpec> fireable = new HashMap<>();
        Map<String, java.time.Instant> handOverFrom = new HashMap<>();
        for (String taskId : assigned.keySet()) {
            cache.get(taskId).ifPresent(spec -> {
                fireable.put(taskId, noReplayBefore(spec, assignedAt.get(taskId)));
                if (moved.contains(taskId)) {
                    handOverFrom(spec, assignedAt.get(taskId)).ifPresent(from -> handOverFrom.put(taskId, from));
                }
            });
        }
        scheduler.accept(fireable, handOverFrom);
    }

    /**
     * Where the task's hand-over gap starts: {@link FirePlan#HAND_OVER_LOOKBACK} before it was
     * assigned here, but never before its spec version was written.
     */
    private static java.util.Optional<java.time.Instant> handOverFrom(TaskSpec spec,
            com.google.protobuf.Timestamp assignedAt) {
        if (assignedAt == null) {
            return java.util.Optional.empty();
        }
        java.time.Instant from = io.cloudtask.schedule.Timestamps.toInstant(assignedAt).minus(FirePlan.HAND_OVER_LOOKBACK);
        if (spec.hasVersionCreatedAt()) {
            java.time.Instant created = io.cloudtask.schedule.Timestamps.toInstant(spec.getVersionCreatedAt());
            from = from.isAfter(created) ? from : created;
        }
        return java.util.Optional.of(from);
    }

    /**
     * The scheduler never counts a fire before {@code version_created_at} as missed. Hand it the
     * later of that and the moment the task was assigned to this agent: fires before then
     * belonged to another agent, whatever this agent's own fire records say (a task that moved
     * away and back while this agent was frozen must not replay what the other agent ran). The
     * gap before the assignment is accounted for separately, without running any of its fires
     * ({@link #handOverFrom}).
     */
    private TaskSpec noReplayBefore(TaskSpec spec, com.google.protobuf.Timestamp assignedAt) {
        if (assignedAt == null) {
            return spec;
        }
        // The same inputs give the same instance: the scheduler compares every held spec on each
        // publish, and an identical instance compares at once where an equal copy is compared field
        // by field (thousands of tasks, republished on every assignment change).
        Floored previous = floored.get(spec.getTaskId());
        if (previous != null && previous.source == spec && previous.assignedAt.equals(assignedAt)) {
            return previous.result;
        }
        TaskSpec result = withReplayFloor(spec, assignedAt);
        floored.put(spec.getTaskId(), new Floored(spec, assignedAt, result));
        return result;
    }

    private static TaskSpec withReplayFloor(TaskSpec spec, com.google.protobuf.Timestamp assignedAt) {
        java.time.Instant floor = io.cloudtask.schedule.Timestamps.toInstant(assignedAt);
        if (spec.hasVersionCreatedAt()
                && !floor.isAfter(io.cloudtask.schedule.Timestamps.toInstant(spec.getVersionCreatedAt()))) {
            return spec;
        }
        return spec.toBuilder().setVersionCreatedAt(io.cloudtask.schedule.Timestamps.of(floor)).build();
    }
}
