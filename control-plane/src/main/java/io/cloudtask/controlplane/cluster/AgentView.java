package io.cloudtask.controlplane.cluster;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * An agent as the API shows it: PostgreSQL's record merged with ZooKeeper's live node and its
 * assignment. {@code assignedTaskIds} is given only for a single agent.
 * {@code waitForRuns}: while draining, whether a task with a run in flight here stays until the run
 * ends (true unless drained with {@code ?waitForRuns=false}). {@code drained}: draining and no task
 * assigned any more (runs may still be in flight when it did not wait for them). {@code runningRuns}: its runs in
 * flight (RUNNING in PostgreSQL), its load. {@code groups}: the names of its cluster's groups whose
 * selector its labels satisfy (offline agents: the labels they last reported).
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
record AgentView(String id, String cluster, String hostname, String os, String arch, Map<String, String> labels,
        int capacity, String version, boolean online, @Nullable Instant firstSeen, @Nullable Instant lastSeen,
        @Nullable String connectedReplica, int assignedTaskCount, boolean cordoned, boolean draining,
        boolean waitForRuns, boolean drained,
        int runningRuns, List<String> groups,
        @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable List<String> assignedTaskIds) {}
