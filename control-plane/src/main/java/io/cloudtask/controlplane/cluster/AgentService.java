package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.allocation.AgentLabels;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.run.RunsInFlight;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.protocol.ZkLayout;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Agents as operators see them, and their cordon and drain flags. Online means the agent's
 * ephemeral node exists; the assigned tasks are its Assignment node. Thread-safe.
 */
@Singleton
class AgentService {
    private static final Logger log = LoggerFactory.getLogger(AgentService.class);

    private final AgentDirectory directory;
    private final ClusterService clusters;
    private final LiveAgents liveAgents;
    private final List<AgentFlagsListener> listeners;
    private final Assignments assignments;
    private final RunsInFlight runsInFlight;
    private final AgentGroups groups;

    AgentService(AgentDirectory directory, ClusterService clusters, LiveAgents liveAgents,
            List<AgentFlagsListener> listeners, Assignments assignments, RunsInFlight runsInFlight,
            AgentGroups groups) {
        this.groups = groups;
        this.assignments = assignments;
        this.runsInFlight = runsInFlight;
        this.directory = directory;
        this.clusters = clusters;
        this.liveAgents = liveAgents;
        this.listeners = listeners;
    }

    List<AgentView> list(String cluster) {
        List<String> names;
        if (cluster == null) {
            names = clusters.names();
        } else {
            clusters.requireExists("cluster", cluster);
            names = List.of(cluster);
        }
        Map<String, AgentRow> recorded = new HashMap<>();
        directory.list(cluster).forEach(row -> recorded.put(row.id(), row));
        Map<String, Integer> running = runsInFlight.countByAgent(cluster);
        Map<String, List<AgentGroupRow>> groupsByCluster = groups.rows(cluster).stream()
                .collect(Collectors.groupingBy(AgentGroupRow::cluster));
        List<AgentView> views = new ArrayList<>();
        for (String name : names) {
            Map<String, AgentInfo> live = liveAgents.of(name);
            TreeSet<String> ids = new TreeSet<>(live.keySet());
            recorded.values().stream().filter(row -> row.cluster().equals(name)).forEach(row -> ids.add(row.id()));
            for (String id : ids) {
                views.add(view(name, id, recorded.get(id), live.get(id), false, running.getOrDefault(id, 0),
                        groupsByCluster.getOrDefault(name, List.of())));
            }
        }
        return views;
    }

    AgentView get(String agentId) {
        Located agent = locate(agentId);
        return view(agent.cluster(), agentId, agent.row(), agent.info(), true,
                runsInFlight.countByAgent(agent.cluster()).getOrDefault(agentId, 0), groups.rows(agent.cluster()));
    }

    AgentView cordon(String agentId) {
        return setFlags(agentId, new AgentFlags(true, false));
    }

    AgentView uncordon(String agentId) {
        return setFlags(agentId, AgentFlags.NONE);
    }

    /**
     * Cordons the agent and moves its tasks away; {@code waitForRuns} false moves the tasks with a
     * run in flight there too (the runs go on to completion on this agent; they are not killed).
     */
    AgentView drain(String agentId, boolean waitForRuns) {
        return setFlags(agentId, new AgentFlags(true, true, waitForRuns));
    }

    private AgentView setFlags(String agentId, AgentFlags flags) {
        Located agent = locate(agentId);
        directory.setFlags(agentId, agent.cluster(), agent.row() == null ? agent.info() : null, flags);
        log.info("agent {} of cluster {} is now {}", agentId, agent.cluster(),
                flags.movesTasksWithRunsInFlight() ? "draining, not waiting for its runs in flight"
                        : flags.draining() ? "draining" : flags.cordoned() ? "cordoned" : "schedulable");
        listeners.forEach(listener -> listener.agentFlagsChanged(agent.cluster()));
        return get(agentId);
    }

    /** An agent found in PostgreSQL, ZooKeeper or both. */
    private record Located(String cluster, AgentRow row, AgentInfo info) {}

    private Located locate(String agentId) {
        if (!ZkLayout.isValidSegment(agentId)) {
            throw ApiException.notFound("agent '" + agentId + "' does not exist");
        }
        Optional<AgentRow> row = directory.find(agentId);
        if (row.isPresent()) {
            return new Located(row.get().cluster(), row.get(), liveAgents.info(row.get().cluster(), agentId));
        }
        for (String cluster : clusters.names()) {
            AgentInfo info = liveAgents.info(cluster, agentId);
            if (info != null) {
                return new Located(cluster, null, info);
            }
        }
        throw ApiException.notFound("agent '" + agentId + "' does not exist: it never connected to a control plane"
                + " and is not registered in ZooKeeper (GET /api/v1/agents lists the known agents)");
    }

    /** One agent's view; its groups: those of {@code clusterGroups} its labels (os and arch too) satisfy. */
    private AgentView view(String cluster, String id, AgentRow row, AgentInfo info, boolean withTaskIds,
            int runningRuns, List<AgentGroupRow> clusterGroups) {
        List<String> taskIds = assignments.assignedTasks(cluster, id);
        AgentFlags flags = row == null ? AgentFlags.NONE : row.flags();
        boolean online = info != null;
        String hostname = online ? info.getHostname() : row.hostname();
        String os = online ? info.getOs() : row.os();
        String arch = online ? info.getArch() : row.arch();
        Map<String, String> labels = online ? info.getLabelsMap() : row.labels();
        int capacity = online ? info.getCapacity() : row.capacity();
        String version = online ? info.getAgentVersion() : row.agentVersion();
        return new AgentView(id, cluster, hostname, os, arch, Map.copyOf(labels), capacity, version, online,
                row == null ? null : row.firstSeenAt(), row == null ? null : row.lastSeenAt(),
                online && row != null ? row.connectedReplica() : null, taskIds.size(), flags.cordoned(),
                flags.draining(), flags.waitsForRuns(), flags.draining() && taskIds.isEmpty(), runningRuns,
                AgentGroups.matching(clusterGroups, AgentLabels.offered(os, arch, labels)),
                withTaskIds ? taskIds : null);
    }
}
