package io.cloudtask.agent.membership;

import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.AssignmentReader;
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
 * A split assignment is assembled from its parts ({@link AssignmentReader}) before it is reported;
 * a torn read (a part rewritten meanwhile) is read again, and if still torn skipped: the
 * publication's own header write is the next change the cache reports.
 *
 * <p>Thread-safe for start/close from one thread. The {@link AssignmentListener} is called on the
 * cache's thread. Connection-state handling lives in {@link FencingPolicy}, not here.
 */
public final class ZkMembership implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ZkMembership.class);

    /** A torn read means a publication was under way; a second read almost always lands after it. */
    private static final int TORN_READ_ATTEMPTS = 5;

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
        Optional<Assignment> assignment;
        try {
            assignment = AssignmentReader.read(this::read, cluster, agentId, TORN_READ_ATTEMPTS);
        } catch (IllegalArgumentException e) {
            log.error("ignoring the allocation node {}: {}", allocationPath, e.getMessage());
            return Optional.empty();
        }
        return assignment.filter(this::addressedToUs);
    }

    private byte[] read(String path) throws Exception {
        try {
            return client.getData().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return null;
        }
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
        Assignment assignment;
        try {
            Assignment header = ZkLayout.decodeAssignment(data.getData() == null ? new byte[0] : data.getData());
            try {
                assignment = AssignmentReader.complete(header, this::read, cluster, agentId);
            } catch (AssignmentReader.TornReadException e) {
                // This header is already outdated: read the newest one and its parts.
                assignment = AssignmentReader.read(this::read, cluster, agentId, TORN_READ_ATTEMPTS).orElse(null);
            }
        } catch (IllegalArgumentException e) {
            log.error("ignoring the allocation node {}: {}", allocationPath, e.getMessage());
            return;
        } catch (AssignmentReader.TornReadException e) {
            // A publication is still rewriting it; its header write is a change this cache reports.
            log.info("the assignment in {} is being rewritten; waiting for the next version: {}", allocationPath,
                    e.getMessage());
            return;
        } catch (Exception e) {
            // The connection went away mid-read: the fencing policy re-reads everything on reconnect.
            log.warn("cannot read the parts of the assignment in {}: {}", allocationPath, e.toString());
            return;
        }
        if (assignment != null && addressedToUs(assignment)) {
            listener.onAssignment(assignment);
        }
    }

    /** Whether the assignment is this agent's (logged when it names another). */
    private boolean addressedToUs(Assignment assignment) {
        if ((!assignment.getAgentId().isEmpty() && !assignment.getAgentId().equals(agentId))
                || (!assignment.getCluster().isEmpty() && !assignment.getCluster().equals(cluster))) {
            log.error("ignoring the assignment in {}: it names agent '{}' in cluster '{}'", allocationPath,
                    assignment.getAgentId(), assignment.getCluster());
            return false;
        }
        return true;
    }
}
