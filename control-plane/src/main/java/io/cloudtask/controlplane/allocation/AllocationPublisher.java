package io.cloudtask.controlplane.allocation;

import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.controlplane.coordination.ReplicaIdentity;
import io.cloudtask.controlplane.task.TaskRef;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes each cluster's allocation to ZooKeeper, on the leading replica only.
 *
 * <p>Triggers: an agent node appearing or disappearing, the {@link ZkLayout#TASKS_CHANGED}
 * signal, gaining leadership, and a periodic reconcile. Triggers coalesce: all publication runs
 * on one thread, and a trigger arriving while a publication is pending adds nothing.
 *
 * <p><b>Leadership policy:</b> this replica publishes only while it holds the LeaderLatch and its
 * ZooKeeper connection is not SUSPENDED or LOST. Each write names the znode version it read, so a
 * concurrent writer makes the write fail (and the publication is retried) instead of overwriting.
 * Epochs only grow per agent: allocation nodes are kept when an agent leaves (emptied), so a
 * returning agent never sees an epoch lower than one it applied.
 *
 * <p>Thread-safe. Curator callbacks only enqueue work on the publisher thread.
 */
@Context
class AllocationPublisher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AllocationPublisher.class);
    private static final Duration RETRY_DELAY = Duration.ofSeconds(1);

    private final CuratorFramework client;
    private final TaskService tasks;
    private final ClusterService clusters;
    private final String replicaId;
    private final Clock clock;
    private final Duration reconcileInterval;
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "allocation-publisher");
        thread.setDaemon(true);
        return thread;
    });
    private final AtomicBoolean publishPending = new AtomicBoolean();
    private final AtomicLong publications = new AtomicLong();
    private LeaderLatch leaderLatch;
    private CuratorCache clusterCache;
    private CuratorCache signalCache;

    AllocationPublisher(CuratorFramework client, TaskService tasks, ClusterService clusters, ReplicaIdentity replica,
            Clock clock, @Value("${cloudtask.allocation.reconcile-interval:30s}") Duration reconcileInterval) {
        this.client = client;
        this.tasks = tasks;
        this.clusters = clusters;
        this.replicaId = replica.id();
        this.clock = clock;
        this.reconcileInterval = reconcileInterval;
    }

    @PostConstruct
    void start() throws Exception {
        client.getConnectionStateListenable().addListener((c, state) -> {
            if (state == ConnectionState.RECONNECTED) {
                // Re-read everything: agents may have come and gone while we were away.
                requestPublish();
            }
        });
        leaderLatch = new LeaderLatch(client, ZkLayout.LEADER, replicaId);
        leaderLatch.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                log.info("replica {} is now the allocation leader", replicaId);
                requestPublish();
            }

            @Override
            public void notLeader() {
                log.info("replica {} is no longer the allocation leader", replicaId);
            }
        });
        leaderLatch.start();
        clusterCache = CuratorCache.build(client, ZkLayout.CLUSTERS);
        clusterCache.listenable().addListener((type, oldData, data) -> {
            String path = data != null ? data.getPath() : oldData != null ? oldData.getPath() : "";
            // Only agent arrivals and departures matter; our own allocation writes land here too.
            if (path.contains("/agents/")) {
                requestPublish();
            }
        });
        clusterCache.start();
        signalCache = CuratorCache.build(client, ZkLayout.TASKS_CHANGED);
        signalCache.listenable().addListener((type, oldData, data) -> requestPublish());
        signalCache.start();
        executor.scheduleWithFixedDelay(this::requestPublish, reconcileInterval.toMillis(),
                reconcileInterval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether this replica currently leads allocation. */
    boolean isLeader() {
        return leaderLatch != null && leaderLatch.hasLeadership();
    }

    /** Number of allocation nodes this replica has written (for tests and metrics). */
    long publications() {
        return publications.get();
    }

    void requestPublish() {
        if (publishPending.compareAndSet(false, true)) {
            executor.execute(this::publishIfLeading);
        }
    }

    private void publishIfLeading() {
        publishPending.set(false);
        // A SUSPENDED connection reports not connected: the leader stops leading at once.
        if (!isLeader() || !client.getZookeeperClient().isConnected()) {
            return;
        }
        try {
            for (String cluster : clusters.names()) {
                publishCluster(cluster);
            }
        } catch (ConcurrentWriteException e) {
            log.info("allocation changed under us ({}); publishing again", e.getMessage());
            requestPublish();
        } catch (Exception e) {
            log.warn("allocation publication failed, retrying in {}: {}", RETRY_DELAY, e.toString());
            executor.schedule(this::requestPublish, RETRY_DELAY.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void publishCluster(String cluster) throws Exception {
        List<String> liveAgents = children(ZkLayout.agents(cluster));
        List<TaskRef> clusterTasks = tasks.liveTasks(cluster);
        Map<String, List<AssignedTask>> placement = Placement.place(clusterTasks, liveAgents);
        Set<String> agents = new TreeSet<>(liveAgents);
        agents.addAll(children(ZkLayout.allocations(cluster)));
        for (String agentId : agents) {
            write(cluster, agentId, placement.getOrDefault(agentId, List.of()));
        }
    }

    private void write(String cluster, String agentId, List<AssignedTask> desired) throws Exception {
        String path = ZkLayout.allocation(cluster, agentId);
        Stat stat = new Stat();
        Assignment current = null;
        try {
            current = ZkLayout.decodeAssignment(client.getData().storingStatIn(stat).forPath(path));
        } catch (KeeperException.NoNodeException e) {
            // First publication for this agent.
        } catch (IllegalArgumentException e) {
            log.warn("allocation node {} held an unreadable payload; overwriting it", path);
        }
        if (current != null && current.getTasksList().equals(desired)) {
            return;
        }
        long epoch = current == null ? 1 : current.getEpoch() + 1;
        byte[] payload = ZkLayout.encode(Assignment.newBuilder()
                .setEpoch(epoch)
                .setAgentId(agentId)
                .setCluster(cluster)
                .addAllTasks(desired)
                .setPublishedAt(Timestamps.of(clock.instant()))
                .build());
        try {
            if (stat.getCtime() == 0) {
                client.create().creatingParentContainersIfNeeded().forPath(path, payload);
            } else {
                client.setData().withVersion(stat.getVersion()).forPath(path, payload);
            }
        } catch (KeeperException.NodeExistsException | KeeperException.BadVersionException e) {
            throw new ConcurrentWriteException(path);
        }
        publications.incrementAndGet();
        log.info("published allocation epoch {} for agent {} in cluster {}: {} tasks", epoch, agentId, cluster, desired.size());
    }

    private List<String> children(String path) throws Exception {
        try {
            return client.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        }
    }

    @PreDestroy
    @Override
    public void close() throws Exception {
        executor.shutdownNow();
        if (signalCache != null) {
            signalCache.close();
        }
        if (clusterCache != null) {
            clusterCache.close();
        }
        if (leaderLatch != null) {
            leaderLatch.close();
        }
    }

    private static final class ConcurrentWriteException extends Exception {
        ConcurrentWriteException(String path) {
            super("another writer changed " + path);
        }
    }
}
