package io.cloudtask.agent.membership;

import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.ZkLayout;
import java.util.Objects;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's presence in ZooKeeper: its EPHEMERAL liveness node
 * ({@link ZkLayout#agent}, an {@link AgentInfo}) kept by Curator's {@link PersistentNode}, which
 * recreates it after a session loss, and a {@link CuratorCache} on its allocation node
 * ({@link ZkLayout#allocation}) that reports every published {@link Assignment} without polling.
 *
 * <p>Thread-safe for start/close from one thread. The {@link AssignmentListener} is called on the
 * cache's thread. Connection-state handling lives in {@link FencingPolicy}, not here.
 */
public final class ZkMembership implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ZkMembership.class);

    private final CuratorFramework client;
    private final String cluster;
    private final String agentId;
    private final String agentPath;
    private final String allocationPath;
    private final AssignmentListener listener;
    private PersistentNode node;
    private CuratorCache cache;

    /** @param client a started (or about to be started) Curator client, owned by the caller */
    public ZkMembership(CuratorFramework client, String cluster, String agentId, AssignmentListener listener) {
        this.client = Objects.requireNonNull(client, "client");
        this.cluster = cluster;
        this.agentId = agentId;
        this.agentPath = ZkLayout.agent(cluster, agentId);
        this.allocationPath = ZkLayout.allocation(cluster, agentId);
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    /** Registers the liveness node and starts watching the allocation node. Needs a started client. */
    public synchronized void start(AgentInfo info) {
        if (node != null) {
            throw new IllegalStateException("membership already started");
        }
        node = new PersistentNode(client, CreateMode.EPHEMERAL, false, agentPath, ZkLayout.encode(info));
        node.start();
        cache = CuratorCache.build(client, allocationPath, CuratorCache.Options.SINGLE_NODE_CACHE);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((before, after) -> deliver(after))
                .forDeletes(deleted -> {
                    log.info("allocation node {} was deleted", allocationPath);
                    listener.onAssignmentMissing();
                })
                .build());
        cache.start();
        log.info("registering as {} and watching {}", agentPath, allocationPath);
    }

    /**
     * Reads the allocation node now, bypassing the cache: the fencing policy's full re-read after
     * a reconnect.
     *
     * @return the assignment, or empty when the node does not exist
     * @throws Exception when ZooKeeper cannot be read (the caller stays fenced)
     */
    public Optional<Assignment> readAllocation() throws Exception {
        byte[] data;
        try {
            data = client.getData().forPath(allocationPath);
        } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
        }
        return Optional.ofNullable(decode(data));
    }

    /** The liveness node's path. */
    /**
     * Whether this client's current session owns the agent's ephemeral node, asked of the server
     * (a round trip): false when the node is gone or belongs to another session.
     */
    public boolean sessionOwnsAgentNode() throws Exception {
        org.apache.zookeeper.data.Stat stat = client.checkExists().forPath(agentPath());
        return stat != null && stat.getEphemeralOwner() == client.getZookeeperClient().getZooKeeper().getSessionId();
    }

    public String agentPath() {
        return agentPath;
    }

    /** Removes the liveness node (the agent leaves the cluster) and stops watching. */
    @Override
    public synchronized void close() throws Exception {
        if (cache != null) {
            cache.close();
        }
        if (node != null) {
            node.close();
        }
    }

    private void deliver(ChildData data) {
        Assignment assignment = decode(data.getData());
        if (assignment != null) {
            listener.onAssignment(assignment);
        }
    }

    /** Decodes an assignment, or returns null (and logs) when it is unusable. */
    private Assignment decode(byte[] data) {
        Assignment assignment;
        try {
            assignment = ZkLayout.decodeAssignment(data == null ? new byte[0] : data);
        } catch (IllegalArgumentException e) {
            log.error("ignoring the allocation node {}: {}", allocationPath, e.getMessage());
            return null;
        }
        if ((!assignment.getAgentId().isEmpty() && !assignment.getAgentId().equals(agentId))
                || (!assignment.getCluster().isEmpty() && !assignment.getCluster().equals(cluster))) {
            log.error("ignoring the assignment in {}: it names agent '{}' in cluster '{}'", allocationPath,
                    assignment.getAgentId(), assignment.getCluster());
            return null;
        }
        return assignment;
    }
}
