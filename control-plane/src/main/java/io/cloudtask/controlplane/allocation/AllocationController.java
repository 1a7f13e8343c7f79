package io.cloudtask.controlplane.allocation;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.cluster.Assignments;
import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.controlplane.task.TaskRef;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * {@code GET /api/v1/clusters/{name}/allocation}: the allocation as published in ZooKeeper, read
 * on any replica. Per agent its epoch, publication time and task count (the task ids only for
 * {@code ?agentId=}, so the answer stays small at 100,000 tasks), and the live tasks no agent
 * holds. Their reasons come from the leader's last publication, so only the leading replica can
 * give them; other replicas answer {@code reason: null} (nothing is stored for them).
 */
@Controller("/api/v1/clusters/{name}/allocation")
class AllocationController {
    static final int UNASSIGNED_SHOWN = 1000;

    private final ClusterService clusters;
    private final Assignments assignments;
    private final TaskService tasks;
    private final AllocationPublisher publisher;

    AllocationController(ClusterService clusters, Assignments assignments, TaskService tasks,
            AllocationPublisher publisher) {
        this.clusters = clusters;
        this.assignments = assignments;
        this.tasks = tasks;
        this.publisher = publisher;
    }

    @Serdeable
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record AgentAllocation(String agentId, boolean online, long epoch, @Nullable Instant publishedAt, int taskCount,
            @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable List<String> taskIds) {}

    @Serdeable
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record UnassignedTask(String taskId, @Nullable String reason) {}

    /**
     * {@code unassignedCount}: live tasks in no agent's assignment; {@code unassigned}: the first
     * {@value #UNASSIGNED_SHOWN} of them by id; {@code reasonsFrom}: when the leader computed the
     * reasons, null when this replica does not lead.
     */
    @Serdeable
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record ClusterAllocation(String cluster, int taskCount, List<AgentAllocation> agents, int unassignedCount,
            List<UnassignedTask> unassigned, @Nullable Instant reasonsFrom) {}

    @Get
    ClusterAllocation get(@PathVariable String name, @QueryValue @Nullable String agentId) {
        if (!clusters.exists(name)) {
            throw ApiException.notFound("cluster '" + name + "' does not exist (GET /api/v1/clusters lists them)");
        }
        SortedMap<String, Assignment> published = assignments.all(name);
        if (agentId != null && !published.containsKey(agentId)) {
            throw ApiException.invalid("agentId", "agent '" + agentId + "' has no assignment in cluster '" + name
                    + "'; GET /api/v1/clusters/" + name + "/allocation lists the agents that have one");
        }
        Set<String> held = new HashSet<>();
        List<AgentAllocation> agents = new ArrayList<>();
        for (Map.Entry<String, Assignment> entry : published.entrySet()) {
            Assignment assignment = entry.getValue();
            List<String> ids = assignment.getTasksList().stream().map(AssignedTask::getTaskId).sorted().toList();
            held.addAll(ids);
            if (agentId == null || agentId.equals(entry.getKey())) {
                agents.add(new AgentAllocation(entry.getKey(), assignments.isOnline(name, entry.getKey()),
                        assignment.getEpoch(),
                        assignment.hasPublishedAt() ? Timestamps.toInstant(assignment.getPublishedAt()) : null,
                        ids.size(), agentId == null ? null : ids));
            }
        }
        List<TaskRef> live = tasks.liveTasks(name);
        Map<String, String> reasons = new HashMap<>();
        Instant reasonsFrom = null;
        var last = publisher.lastUnassigned(name);
        if (last.isPresent()) {
            reasonsFrom = last.get().at();
            last.get().tasks().forEach(task -> reasons.put(task.taskId(), task.reason().name()));
        }
        SortedMap<String, UnassignedTask> unassigned = new TreeMap<>();
        for (TaskRef task : live) {
            if (!held.contains(task.taskId())) {
                unassigned.put(task.taskId(), new UnassignedTask(task.taskId(), reasons.get(task.taskId())));
            }
        }
        return new ClusterAllocation(name, live.size(), agents, unassigned.size(),
                unassigned.values().stream().limit(UNASSIGNED_SHOWN).toList(), reasonsFrom);
    }
}
