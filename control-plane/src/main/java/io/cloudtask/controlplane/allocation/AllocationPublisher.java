package io.cloudtask.controlplane.allocation;

import io.cloudtask.controlplane.cluster.AgentDirectory;
import io.cloudtask.controlplane.cluster.AgentFlags;
import io.cloudtask.controlplane.cluster.AgentGroups;
import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.controlplane.coordination.ReplicaIdentity;
import io.cloudtask.controlplane.run.RunsInFlight;
import io.cloudtask.controlplane.task.TaskRef;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.AssignmentPart;
import io.cloudtask.proto.v1.Placement;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
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
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.recipes.cache.ChildData;
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
 * <p>Each publication reads the live agents' {@code AgentInfo} (labels, capacity), the live tasks
 * with their placements, the runs in flight (RUNNING runs: task → agents, one query per cluster,
 * which pin a task to its agent while that agent lives) and the assignments currently published,
 * asks the pure {@link Allocator} for the new allocation, logs its moves by reason, and rewrites
 * only the assignments that changed.
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
    private final RunsInFlight runsInFlight;
    private final ClusterService clusters;
    private final AgentDirectory agentDirectory;
    private final AgentGroups groups;
    private final String replicaId;
    private final Clock clock;
    private final Duration reconcileInterval;
    private final AllocatorOptions options;
    private final int splitThreshold;
    private final Allocator allocator = new Allocator();
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "allocation-publisher");
        thread.setDaemon(true);
        return thread;
    });
    private final AtomicBoolean publishPending = new AtomicBoolean();
    private final AtomicLong publications = new AtomicLong();
    private final AtomicLong bytesWritten = new AtomicLong();
    /** Per cluster, the unassigned tasks of this replica's last publication (only a leader has them). */
    private final Map<String, LastUnassigned> lastUnassigned = new java.util.concurrent.ConcurrentHashMap<>();
    private LeaderLatch leaderLatch;
    private CuratorCache clusterCache;
    private CuratorCache signalCache;

    AllocationPublisher(CuratorFramework client, TaskService tasks, RunsInFlight runsInFlight, ClusterService clusters,
            AgentDirectory agentDirectory, AgentGroups groups, ReplicaIdentity replica,
            Clock clock, @Value("${cloudtask.allocation.reconcile-interval:30s}") Duration reconcileInterval,
            @Value("${cloudtask.allocation.rebalance-on-join:true}") boolean rebalanceOnJoin,
            @Value("${cloudtask.allocation.split-threshold:262144}") int splitThreshold) {
        this.client = client;
        this.tasks = tasks;
        this.runsInFlight = runsInFlight;
        this.clusters = clusters;
        this.agentDirectory = agentDirectory;
        this.groups = groups;
        this.replicaId = replica.id();
        this.clock = clock;
        this.reconcileInterval = reconcileInterval;
        this.options = new AllocatorOptions(rebalanceOnJoin);
        // Far below ZooKeeper's 1 MiB node and request limit (jute.maxbuffer), with room for the header.
        if (splitThreshold < 1024 || splitThreshold > 512 * 1024) {
            throw new IllegalArgumentException("cloudtask.allocation.split-threshold is " + splitThreshold
                    + " bytes; use 1024 to 524288 (default 262144)");
        }
        this.splitThreshold = splitThreshold;
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

    /** The unassigned tasks of a publication and when it was computed. */
    record LastUnassigned(Instant at, List<Unassigned> tasks) {}

    /**
     * The unassigned tasks, with reasons, of this replica's last publication for the cluster; empty
     * when this replica does not lead (it keeps no allocation state; the leader is the one that knows).
     */
    java.util.Optional<LastUnassigned> lastUnassigned(String cluster) {
        return isLeader() ? java.util.Optional.ofNullable(lastUnassigned.get(cluster)) : java.util.Optional.empty();
    }

    /** Payload bytes this replica has written to allocation nodes and their parts (for tests and metrics). */
    long bytesWritten() {
        return bytesWritten.get();
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
        Map<String, AgentFlags> flags = agentDirectory.flagsOf(cluster);
        List<AgentState> liveAgents = withFlags(liveAgents(cluster), flags);
        Map<String, Published> published = publishedAssignments(cluster);
        List<TaskRef> clusterTasks = tasks.liveTasks(cluster);
        Map<String, Set<String>> running = withoutPinsOfAgentsNotWaiting(runsInFlight.agentsByTask(cluster), flags);
        Map<String, Long> versions = new HashMap<>();
        List<AllocationTask> allocationTasks = new ArrayList<>(clusterTasks.size());
        Map<Placement, TaskPlacement> placements = new HashMap<>();
        // One query for all the cluster's groups; a selector edited after it applies next publication.
        Map<String, LabelSelector> groupSelectors = groups.selectorsOf(cluster);
        for (TaskRef task : clusterTasks) {
            versions.put(task.taskId(), task.version());
            allocationTasks.add(new AllocationTask(task.taskId(), task.version(),
                    placements.computeIfAbsent(task.placement(), placement -> placementOf(placement, groupSelectors)),
                    running.getOrDefault(task.taskId(), Set.of())));
        }
        Map<String, List<String>> previous = new HashMap<>();
        published.forEach((agentId, node) -> previous.put(agentId, node.taskIds()));
        Allocation allocation = allocator.allocate(
                new AllocationInput(allocationTasks, liveAgents, previous, clock.instant(), options));
        lastUnassigned.put(cluster, new LastUnassigned(allocation.at(), allocation.unassigned()));
        if (!allocation.moves().isEmpty()) {
            log.info("allocation of cluster {}: {} tasks on {} live agents; {} moves {}; {} unassigned {}", cluster,
                    clusterTasks.size(), liveAgents.size(), allocation.moves().size(), allocation.moveCounts(),
                    allocation.unassigned().size(), allocation.unassignedCounts());
        }
        Set<String> agents = new TreeSet<>(allocation.tasksByAgent().keySet());
        agents.addAll(published.keySet());
        // Agents that lose a task are written before agents that gain one, so an agent handing a
        // task over (both alive, e.g. on a join) sees its removal before the receiver can fire it.
        // This narrows the hand-over window to the difference in watch latency; strict tasks
        // close it with fire claims.
        List<String> order = new ArrayList<>(agents);
        order.sort(java.util.Comparator.comparing((String agentId) -> !losesATask(published.get(agentId),
                allocation.tasksOf(agentId))).thenComparing(agentId -> agentId));
        // Who held each task before this publication: a task that moves carries its previous agent.
        Map<String, String> heldBefore = new HashMap<>();
        published.forEach((agentId, node) -> node.taskIds().forEach(taskId -> heldBefore.putIfAbsent(taskId, agentId)));
        for (String agentId : order) {
            Map<String, AssignedTask> kept = new HashMap<>();
            if (published.get(agentId) != null) {
                published.get(agentId).tasks().forEach(task -> kept.put(task.getTaskId(), task));
            }
            com.google.protobuf.Timestamp now = Timestamps.of(allocation.at());
            List<AssignedTask> desired = allocation.tasksOf(agentId).stream()
                    .map(taskId -> assignedTask(taskId, versions.get(taskId), kept.get(taskId), now,
                            heldBefore.get(taskId), agentId))
                    .toList();
            write(cluster, agentId, published.get(agentId), desired, allocation.at());
        }
    }

    /**
     * A task of an agent's assignment: a task it keeps keeps when it was assigned and from whom it
     * came; a task new to it is assigned now, from the agent that held it before (if any).
     */
    private static AssignedTask assignedTask(String taskId, long version, AssignedTask kept,
            com.google.protobuf.Timestamp now, String previousHolder, String agentId) {
        AssignedTask.Builder task = AssignedTask.newBuilder().setTaskId(taskId).setSpecVersion(version);
        if (kept != null && kept.hasAssignedAt()) {
            return task.setAssignedAt(kept.getAssignedAt()).setPreviousAgentId(kept.getPreviousAgentId()).build();
        }
        task.setAssignedAt(now);
        if (previousHolder != null && !previousHolder.equals(agentId)) {
            task.setPreviousAgentId(previousHolder);
        }
        return task.build();
    }

    private static boolean losesATask(Published before, List<String> after) {
        return before != null && !new java.util.HashSet<>(after).containsAll(before.taskIds());
    }

    /**
     * The allocator's view of a task's placement, a group's resolved through {@code groupSelectors}
     * (the cluster's groups by name). The task API stores only placements it validated with the
     * same rules, and a group cannot be deleted while a task names it; a placement that fails here
     * anyway (a rule tightened since) is logged and read as ANY rather than leaving the task
     * unassigned without a word.
     */
    static TaskPlacement placementOf(Placement placement, Map<String, LabelSelector> groupSelectors) {
        try {
            if (!placement.getGroup().isEmpty()) {
                LabelSelector selector = groupSelectors.get(placement.getGroup());
                if (selector == null) {
                    throw new IllegalArgumentException("group '" + placement.getGroup() + "' does not exist");
                }
                return new TaskPlacement(placement.getKind() == PlacementKind.PLACEMENT_KIND_BROADCAST
                        ? TaskPlacement.Kind.BROADCAST : TaskPlacement.Kind.LABEL_SELECTOR, List.of(), selector);
            }
            return switch (placement.getKind()) {
                case PLACEMENT_KIND_NAMED -> TaskPlacement.named(placement.getNamesList());
                case PLACEMENT_KIND_LABEL_SELECTOR -> TaskPlacement.labels(placement.getLabelSelector());
                case PLACEMENT_KIND_BROADCAST -> TaskPlacement.broadcast(placement.getLabelSelector());
                case PLACEMENT_KIND_ANY, PLACEMENT_KIND_UNSPECIFIED, UNRECOGNIZED -> TaskPlacement.any();
            };
        } catch (IllegalArgumentException e) {
            log.warn("a stored placement is no longer valid ({}); allocating its tasks to any agent: {}",
                    e.getMessage(), placement);
            return TaskPlacement.any();
        }
    }

    private List<AgentState> liveAgents(String cluster) throws Exception {
        List<AgentState> live = new ArrayList<>();
        for (String agentId : children(ZkLayout.agents(cluster))) {
            byte[] data;
            try {
                data = client.getData().forPath(ZkLayout.agent(cluster, agentId));
            } catch (KeeperException.NoNodeException e) {
                // Left between listing and reading: it is not live.
                continue;
            }
            AgentInfo info;
            try {
                info = ZkLayout.decodeAgentInfo(data);
            } catch (IllegalArgumentException e) {
                log.warn("agent {} in cluster {} published an unreadable AgentInfo; allocating to it with capacity 1"
                        + " and no labels: {}", agentId, cluster, e.getMessage());
                info = AgentInfo.getDefaultInstance();
            }
            live.add(agentState(agentId, info));
        }
        return live;
    }

    /**
     * Applies the operators' flags, read afresh on every publication: a cordoned agent keeps its
     * tasks and takes no new one; a draining agent gives its tasks up too (but keeps a task whose
     * run is in flight there until the run ends, as the allocator keeps any such task).
     */
    static List<AgentState> withFlags(List<AgentState> agents, Map<String, AgentFlags> flags) {
        List<AgentState> flagged = new ArrayList<>(agents.size());
        for (AgentState agent : agents) {
            AgentFlags set = flags.getOrDefault(agent.id(), AgentFlags.NONE);
            flagged.add(set.draining() ? agent.withCordoned(true)
                    : set.cordoned() ? agent.cordonedKeepingTasks() : agent);
        }
        return flagged;
    }

    /**
     * The runs in flight that pin tasks (task → agents), without the agents that drain without
     * waiting for their runs ({@code POST /agents/{id}/drain?waitForRuns=false}): to the allocator
     * their tasks have no run there, so they move at once like any other task of a draining agent,
     * while the runs themselves go on to completion on the agent.
     */
    static Map<String, Set<String>> withoutPinsOfAgentsNotWaiting(Map<String, Set<String>> running,
            Map<String, AgentFlags> flags) {
        Set<String> notWaiting = new HashSet<>();
        flags.forEach((agentId, set) -> {
            if (set.movesTasksWithRunsInFlight()) {
                notWaiting.add(agentId);
            }
        });
        if (notWaiting.isEmpty()) {
            return running;
        }
        Map<String, Set<String>> pins = new HashMap<>();
        running.forEach((taskId, agents) -> {
            Set<String> pinnedTo = new HashSet<>(agents);
            pinnedTo.removeAll(notWaiting);
            if (!pinnedTo.isEmpty()) {
                pins.put(taskId, pinnedTo);
            }
        });
        return pins;
    }

    /**
     * How the allocator sees a live agent. The agent's {@code os} and {@code arch} are also labels
     * (unless the agent sets those labels itself; {@link AgentLabels}), so that {@code os=windows}
     * selects by what the agent reports. An unset capacity (0) counts as 1. Flags are applied by
     * {@link #withFlags}.
     */
    static AgentState agentState(String agentId, AgentInfo info) {
        return new AgentState(agentId, info.getHostname(), AgentLabels.offered(info), Math.max(1, info.getCapacity()),
                false, true);
    }

    /** The allocation nodes as they are now: what each agent was last told, and the version to write against. */
    private Map<String, Published> publishedAssignments(String cluster) throws Exception {
        Map<String, Published> published = new HashMap<>();
        for (String agentId : children(ZkLayout.allocations(cluster))) {
            String path = ZkLayout.allocation(cluster, agentId);
            Stat stat = new Stat();
            byte[] data;
            try {
                data = client.getData().storingStatIn(stat).forPath(path);
            } catch (KeeperException.NoNodeException e) {
                continue;
            }
            Assignment header = null;
            try {
                header = ZkLayout.decodeAssignment(data);
            } catch (IllegalArgumentException e) {
                log.warn("allocation node {} held an unreadable payload; overwriting it", path);
            }
            // Only a node with children costs a listing: most agents' assignments are not split.
            List<String> partNodes = stat.getNumChildren() > 0 ? children(path) : List.of();
            published.put(agentId, readParts(cluster, agentId, header, stat.getVersion(), partNodes));
        }
        return published;
    }

    /** Completes a header with its parts; a part missing or unreadable makes the node torn (rewritten whole). */
    private Published readParts(String cluster, String agentId, Assignment header, int version, List<String> partNodes)
            throws Exception {
        long highestEpoch = header == null ? 0 : header.getEpoch();
        for (String name : partNodes) {
            highestEpoch = Math.max(highestEpoch, ZkLayout.allocationPartEpoch(name));
        }
        List<List<AssignedTask>> parts = new ArrayList<>();
        boolean torn = header == null;
        if (header != null) {
            for (int index = 0; index < header.getPartEpochsCount(); index++) {
                String name = ZkLayout.allocationPartName(header.getPartEpochs(index), index);
                AssignmentPart part = partNodes.contains(name)
                        ? readPart(ZkLayout.allocationPart(cluster, agentId, header.getPartEpochs(index), index)) : null;
                torn |= part == null;
                parts.add(part == null ? List.of() : part.getTasksList());
            }
        }
        return new Published(header, version, parts, partNodes, highestEpoch, torn);
    }

    /** A part, from the cache when it holds it (parts never change once written), else from ZooKeeper. */
    private AssignmentPart readPart(String path) throws Exception {
        byte[] data = clusterCache.get(path).map(ChildData::getData).orElse(null);
        if (data == null) {
            try {
                data = client.getData().forPath(path);
            } catch (KeeperException.NoNodeException e) {
                return null;
            }
        }
        try {
            return AssignmentPart.parseFrom(data);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            log.warn("allocation part {} is unreadable; rewriting the assignment: {}", path, e.getMessage());
            return null;
        }
    }

    /**
     * An allocation node read back: its header (null if unreadable), znode version, the tasks of
     * each part of a split assignment, the part nodes present, the highest epoch found in the header
     * or any part's name, and whether header and parts failed to match (then it is rewritten whole).
     */
    private record Published(Assignment header, int version, List<List<AssignedTask>> parts, List<String> partNodes,
            long highestEpoch, boolean torn) {
        List<AssignedTask> tasks() {
            if (header == null) {
                return List.of();
            }
            if (header.getPartEpochsCount() == 0) {
                return header.getTasksList();
            }
            List<AssignedTask> all = new ArrayList<>();
            parts.forEach(all::addAll);
            return all;
        }

        List<String> taskIds() {
            return tasks().stream().map(AssignedTask::getTaskId).toList();
        }

        boolean holdsExactly(List<AssignedTask> desired) {
            List<AssignedTask> current = tasks();
            return !torn && current.size() == desired.size() && new HashSet<>(current).containsAll(desired);
        }
    }

    /**
     * Writes the agent's assignment when its tasks changed: inline when it fits in
     * {@code splitThreshold} bytes, else split into parts ({@link AssignmentParts}). New parts are
     * created first, under names no reader knows yet; then one transaction sets the header (checked
     * against the version read) and deletes the parts that neither the new nor the previous header
     * names, so a reader one epoch behind still finds its parts.
     */
    private void write(String cluster, String agentId, Published node, List<AssignedTask> desired, Instant at)
            throws Exception {
        if (node != null && node.holdsExactly(desired)) {
            return;
        }
        String path = ZkLayout.allocation(cluster, agentId);
        long epoch = (node == null ? 0 : node.highestEpoch()) + 1;
        Assignment.Builder header = Assignment.newBuilder().setEpoch(epoch).setAgentId(agentId).setCluster(cluster)
                .setPublishedAt(Timestamps.of(at));
        Assignment inline = header.clone().addAllTasks(desired).build();
        int version;
        try {
            if (node == null) {
                if (inline.getSerializedSize() <= splitThreshold) {
                    create(path, ZkLayout.encode(inline));
                    logWritten(epoch, agentId, cluster, desired.size(), 0);
                    return;
                }
                // Parts are children: the node must exist first. Epoch 0 and no tasks is what a
                // new agent holds anyway.
                create(path, ZkLayout.encode(Assignment.newBuilder().setAgentId(agentId).setCluster(cluster).build()));
                version = 0;
            } else {
                version = node.version();
            }
            Set<String> keep = new HashSet<>();
            int partsWritten = 0;
            byte[] payload;
            if (inline.getSerializedSize() <= splitThreshold) {
                payload = ZkLayout.encode(inline);
            } else {
                List<List<AssignedTask>> previous = node == null || node.torn() ? List.of() : node.parts();
                List<List<AssignedTask>> plan = AssignmentParts.plan(previous, desired, splitThreshold);
                for (int index = 0; index < plan.size(); index++) {
                    long partEpoch = epoch;
                    if (index < previous.size() && previous.get(index).equals(plan.get(index))) {
                        partEpoch = node.header().getPartEpochs(index);
                    } else {
                        create(ZkLayout.allocationPart(cluster, agentId, epoch, index), ZkLayout.encode(
                                AssignmentPart.newBuilder().setEpoch(epoch).setIndex(index).addAllTasks(plan.get(index))
                                        .build()));
                        partsWritten++;
                    }
                    header.addPartEpochs(partEpoch);
                    keep.add(ZkLayout.allocationPartName(partEpoch, index));
                }
                payload = ZkLayout.encode(header.build());
            }
            if (node != null && node.header() != null) {
                for (int index = 0; index < node.header().getPartEpochsCount(); index++) {
                    keep.add(ZkLayout.allocationPartName(node.header().getPartEpochs(index), index));
                }
            }
            List<CuratorOp> operations = new ArrayList<>();
            operations.add(client.transactionOp().setData().withVersion(version).forPath(path, payload));
            for (String name : node == null ? List.<String>of() : node.partNodes()) {
                if (!keep.contains(name)) {
                    operations.add(client.transactionOp().delete().forPath(path + "/" + name));
                }
            }
            client.transaction().forOperations(operations);
            bytesWritten.addAndGet(payload.length);
            logWritten(epoch, agentId, cluster, desired.size(), partsWritten);
        } catch (KeeperException.NodeExistsException | KeeperException.BadVersionException
                | KeeperException.NoNodeException e) {
            throw new ConcurrentWriteException(path);
        }
    }

    private void create(String path, byte[] payload) throws Exception {
        client.create().creatingParentContainersIfNeeded().forPath(path, payload);
        bytesWritten.addAndGet(payload.length);
    }

    private void logWritten(long epoch, String agentId, String cluster, int tasks, int partsWritten) {
        publications.incrementAndGet();
        log.info("published allocation epoch {} for agent {} in cluster {}: {} tasks{}", epoch, agentId, cluster, tasks,
                partsWritten == 0 ? "" : " (" + partsWritten + " parts written)");
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
