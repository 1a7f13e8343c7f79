package io.cloudtask.controlplane.cluster;

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
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
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
    private final CuratorFramework zookeeper;
    private final List<AgentFlagsListener> listeners;
    private final Assignments assignments;
    private final RunsInFlight runsInFlight;

    AgentService(AgentDirectory directory, ClusterService clusters, CuratorFramework zookeeper,
            List<AgentFlagsListener> listeners, Assignments assignments, RunsInFlight runsInFlight) {
        this.assignments = assignments;
        this.runsInFlight = runsInFlight;
        this.directory = directory;
        this.clusters = clusters;
        this.zookeeper = zookeeper;
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
        List<AgentView> views = new ArrayList<>();
        for (String name : names) {
            Map<String, AgentInfo> live = liveAgents(name);
            TreeSet<String> ids = new TreeSet<>(live.keySet());
            recorded.values().stream().filter(row -> row.cluster().equals(name)).forEach(row -> ids.add(row.id()));
            for (String id : ids) {
                views.add(view(name, id, recorded.get(id), live.get(id), false, running.getOrDefault(id, 0)));
            }
        }
        return views;
    }

    AgentView get(String agentId) {
        Located agent = locate(agentId);
        return view(agent.cluster(), agentId, agent.row(), agent.info(), true,
                runsInFlight.countByAgent(agent.cluster()).getOrDefault(agentId, 0));
    }

    AgentView cordon(String agentId) {
        return setFlags(agentId, new AgentFlags(true, false));
    }

    AgentView uncordon(String agentId) {
        return setFlags(agentId, AgentFlags.NONE);
    }

    AgentView drain(String agentId) {
        return setFlags(agentId, new AgentFlags(true, true));
    }

    private AgentView setFlags(String agentId, AgentFlags flags) {
        Located agent = locate(agentId);
        directory.setFlags(agentId, agent.cluster(), agent.row() == null ? agent.info() : null, flags);
        log.info("agent {} of cluster {} is now {}", agentId, agent.cluster(),
                flags.draining() ? "draining" : flags.cordoned() ? "cordoned" : "schedulable");
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
            return new Located(row.get().cluster(), row.get(), liveInfo(row.get().cluster(), agentId));
        }
        for (String cluster : clusters.names()) {
            AgentInfo info = liveInfo(cluster, agentId);
            if (info != null) {
                return new Located(cluster, null, info);
            }
        }
        throw ApiException.notFound("agent '" + agentId + "' does not exist: it never connected to a control plane"
                + " and is not registered in ZooKeeper (GET /api/v1/agents lists the known agents)");
    }

    private AgentView view(String cluster, String id, AgentRow row, AgentInfo info, boolean withTaskIds,
            int runningRuns) {
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
                flags.draining(), flags.draining() && taskIds.isEmpty(), runningRuns, withTaskIds ? taskIds : null);
    }

    private Map<String, AgentInfo> liveAgents(String cluster) {
        Map<String, AgentInfo> live = new HashMap<>();
        for (String id : children(ZkLayout.agents(cluster))) {
            AgentInfo info = liveInfo(cluster, id);
            if (info != null) {
                live.put(id, info);
            }
        }
        return live;
    }

    /** The agent's AgentInfo while its ephemeral node exists; null when it is offline. */
    private AgentInfo liveInfo(String cluster, String agentId) {
        byte[] data = read(ZkLayout.agent(cluster, agentId));
        if (data == null) {
            return null;
        }
        try {
            return ZkLayout.decodeAgentInfo(data);
        } catch (IllegalArgumentException e) {
            log.warn("agent {} in cluster {} published an unreadable AgentInfo: {}", agentId, cluster, e.getMessage());
            return AgentInfo.newBuilder().setAgentId(agentId).setCluster(cluster).build();
        }
    }

    private byte[] read(String path) {
        try {
            return zookeeper.getData().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return null;
        } catch (Exception e) {
            throw zooKeeperUnavailable(e);
        }
    }

    private List<String> children(String path) {
        try {
            return zookeeper.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        } catch (Exception e) {
            throw zooKeeperUnavailable(e);
        }
    }

    private static ApiException zooKeeperUnavailable(Exception e) {
        return Assignments.unavailable(e);
    }
}
