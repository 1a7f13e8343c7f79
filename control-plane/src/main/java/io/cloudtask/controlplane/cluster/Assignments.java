package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.AssignmentReader;
import io.cloudtask.protocol.ZkLayout;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the published allocation and agent liveness from ZooKeeper, as every replica sees them:
 * which tasks an agent is assigned, which agents hold a task, whether an agent is online.
 * Thread-safe.
 */
@Singleton
public class Assignments {
    private static final Logger log = LoggerFactory.getLogger(Assignments.class);

    /** A torn read means a publication was under way; its next read almost always lands after it. */
    private static final int TORN_READ_ATTEMPTS = 5;

    private final CuratorFramework zookeeper;

    Assignments(CuratorFramework zookeeper) {
        this.zookeeper = zookeeper;
    }

    /** The task ids of the agent's published Assignment (empty when it has none). */
    public List<String> assignedTasks(String cluster, String agentId) {
        Assignment assignment = assignment(cluster, agentId);
        return assignment == null ? List.of() : assignment.getTasksList().stream().map(AssignedTask::getTaskId).toList();
    }

    /**
     * The agents whose published Assignment names the task, in agent id order. Reads every agent's
     * node of the cluster: meant for operator actions, not for hot paths.
     */
    public List<String> agentsHolding(String cluster, String taskId) {
        List<String> holders = new ArrayList<>();
        for (String agentId : children(ZkLayout.allocations(cluster)).stream().sorted().toList()) {
            Assignment assignment = assignment(cluster, agentId);
            if (assignment != null && assignment.getTasksList().stream().anyMatch(t -> t.getTaskId().equals(taskId))) {
                holders.add(agentId);
            }
        }
        return holders;
    }

    /**
     * Every allocation node of the cluster, split ones assembled, by agent id in order (agents that
     * ever received an assignment; a departed agent's node stays, emptied).
     */
    public java.util.SortedMap<String, Assignment> all(String cluster) {
        java.util.SortedMap<String, Assignment> all = new java.util.TreeMap<>();
        for (String agentId : children(ZkLayout.allocations(cluster))) {
            Assignment assignment = assignment(cluster, agentId);
            if (assignment != null) {
                all.put(agentId, assignment);
            }
        }
        return all;
    }

    /** Whether the agent's ephemeral node exists: its ZooKeeper session is alive. */
    public boolean isOnline(String cluster, String agentId) {
        try {
            return zookeeper.checkExists().forPath(ZkLayout.agent(cluster, agentId)) != null;
        } catch (Exception e) {
            throw unavailable(e);
        }
    }

    /**
     * The agent's published Assignment with every task (a split one assembled from its parts), or
     * null when it has none or it is unreadable.
     */
    Assignment assignment(String cluster, String agentId) {
        try {
            return AssignmentReader.read(this::read, cluster, agentId, TORN_READ_ATTEMPTS).orElse(null);
        } catch (IllegalArgumentException e) {
            log.warn("allocation node of agent {} in cluster {} is unreadable: {}", agentId, cluster, e.getMessage());
            return null;
        } catch (AssignmentReader.TornReadException e) {
            throw new ApiException(ErrorKind.UNAVAILABLE, null, "the assignment of agent '" + agentId
                    + "' is being rewritten; retry shortly", e);
        } catch (Exception e) {
            throw unavailable(e);
        }
    }

    private byte[] read(String path) throws Exception {
        try {
            return zookeeper.getData().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return null;
        }
    }

    private List<String> children(String path) {
        try {
            return zookeeper.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        } catch (Exception e) {
            throw unavailable(e);
        }
    }

    static ApiException unavailable(Exception e) {
        return new ApiException(ErrorKind.UNAVAILABLE, null, "ZooKeeper is unavailable, so agents' liveness and"
                + " assignments cannot be read; retry shortly", e);
    }
}
