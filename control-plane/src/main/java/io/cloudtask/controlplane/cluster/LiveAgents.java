package io.cloudtask.controlplane.cluster;

import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.protocol.ZkLayout;
import jakarta.inject.Singleton;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agents that are online, read from their ephemeral ZooKeeper nodes as the allocator reads
 * them. A ZooKeeper failure is an {@code UNAVAILABLE} API error. Thread-safe.
 */
@Singleton
class LiveAgents {
    private static final Logger log = LoggerFactory.getLogger(LiveAgents.class);

    private final CuratorFramework zookeeper;

    LiveAgents(CuratorFramework zookeeper) {
        this.zookeeper = zookeeper;
    }

    /** The online agents of a cluster by id, with what each published. */
    Map<String, AgentInfo> of(String cluster) {
        Map<String, AgentInfo> live = new HashMap<>();
        for (String id : children(ZkLayout.agents(cluster))) {
            AgentInfo info = info(cluster, id);
            if (info != null) {
                live.put(id, info);
            }
        }
        return live;
    }

    /** The agent's AgentInfo while its ephemeral node exists; null when it is offline. */
    AgentInfo info(String cluster, String agentId) {
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
            throw Assignments.unavailable(e);
        }
    }

    private List<String> children(String path) {
        try {
            return zookeeper.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        } catch (Exception e) {
            throw Assignments.unavailable(e);
        }
    }
}
