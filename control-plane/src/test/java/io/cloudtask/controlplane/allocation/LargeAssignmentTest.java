package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.AssignmentReader;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * 100,000 tasks against a real ZooKeeper server: split assignments keep every znode far below
 * the 1 MiB limit, read back whole, and a change rewrites only what it touched.
 */
@MicronautTest(environments = "test", transactional = false)
class LargeAssignmentTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int TASKS = 100_000;
    private static final int SPLIT_THRESHOLD = 64 * 1024;
    private static final String CLUSTER = "default";

    @Inject
    AllocationPublisher publisher;

    @Inject
    TransactionOperations<Connection> transactions;

    CuratorFramework agentSide;

    @Override
    protected Map<String, String> extraProperties() {
        // A smaller threshold than the default 256 KiB: more parts, the same code paths.
        return Map.of("cloudtask.allocation.split-threshold", String.valueOf(SPLIT_THRESHOLD),
                "cloudtask.allocation.reconcile-interval", "1h");
    }

    @BeforeAll
    void connect() {
        agentSide = CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), 10_000, 4000, new RetryOneTime(100));
        agentSide.start();
    }

    @AfterAll
    void disconnect() {
        agentSide.close();
    }

    private void register(String agentId, int capacity, String pool) throws Exception {
        agentSide.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(ZkLayout.agent(CLUSTER, agentId), ZkLayout.encode(AgentInfo.newBuilder().setAgentId(agentId)
                        .setCluster(CLUSTER).setCapacity(capacity).putLabels("pool", pool).build()));
    }

    /** Inserted in one statement: going through the API 100,000 times would test the API, slowly. */
    private void insertTasks(String prefix, int count, String pool) {
        transactions.executeWrite(status -> {
            try (PreparedStatement insert = status.getConnection().prepareStatement("INSERT INTO tasks (id, name, cluster,"
                        + " shell_command, schedules_json, time_zone, environment_json, version, created_at, updated_at,"
                        + " placement_json) SELECT gen_random_uuid(), ? || n, ?, 'true', '[]', 'UTC', '{}', 1, now(), now(),"
                        + " ? FROM generate_series(1, ?) AS n")) {
                insert.setString(1, prefix);
                insert.setString(2, CLUSTER);
                insert.setString(3, "{\"type\":\"labels\",\"selector\":\"pool=" + pool + "\"}");
                insert.setInt(4, count);
                return insert.executeUpdate();
            }
        });
    }

    private Assignment read(String agentId) throws Exception {
        return AssignmentReader.read(path -> {
            try {
                return agentSide.getData().forPath(path);
            } catch (KeeperException.NoNodeException e) {
                return null;
            }
        }, CLUSTER, agentId, 5).orElse(Assignment.getDefaultInstance());
    }

    private int count(String agentId) throws Exception {
        return read(agentId).getTasksCount();
    }

    /** The largest znode under the cluster's allocation, in bytes. */
    private int largestNode(String path) throws Exception {
        Stat stat = agentSide.checkExists().forPath(path);
        int largest = stat == null ? 0 : stat.getDataLength();
        if (stat != null && stat.getNumChildren() > 0) {
            for (String child : agentSide.getChildren().forPath(path)) {
                largest = Math.max(largest, largestNode(path + "/" + child));
            }
        }
        return largest;
    }

    @Test
    void splitsAHundredThousandTasksAcrossSmallNodesAndRewritesOnlyWhatMovesWhenAnAgentLeaves() throws Exception {
        await().atMost(WAIT).until(publisher::isLeader);
        register("big", 1000, "main");
        register("small", 1, "main");
        register("steady", 1, "side");
        insertTasks("main-", TASKS, "main");
        insertTasks("side-", 10, "side");
        publisher.requestPublish();
        await().atMost(WAIT).until(() -> count("big") + count("small") == TASKS && count("steady") == 10);

        Assignment big = read("big");
        Set<String> ids = new HashSet<>();
        big.getTasksList().forEach(task -> ids.add(task.getTaskId()));
        read("small").getTasksList().forEach(task -> ids.add(task.getTaskId()));
        assertThat(ids).hasSize(TASKS);
        assertThat(agentSide.getChildren().forPath(ZkLayout.allocation(CLUSTER, "big")).size()).isGreaterThan(50);
        assertThat(largestNode(ZkLayout.allocations(CLUSTER))).isLessThanOrEqualTo(SPLIT_THRESHOLD);
        int smallCount = count("small");
        assertThat(smallCount).isBetween(1, 1000);

        Stat steadyBefore = agentSide.checkExists().forPath(ZkLayout.allocation(CLUSTER, "steady"));
        long bytesBefore = publisher.bytesWritten();
        int wholeBig = big.getSerializedSize();
        agentSide.delete().forPath(ZkLayout.agent(CLUSTER, "small"));
        await().atMost(WAIT).until(() -> count("big") == TASKS && count("small") == 0);

        long written = publisher.bytesWritten() - bytesBefore;
        List<AssignedTask> moved = new ArrayList<>(read("big").getTasksList());
        moved.removeAll(new HashSet<>(big.getTasksList()));
        assertThat(moved).hasSize(smallCount);
        int movedBytes = moved.stream().mapToInt(AssignmentParts::size).sum();
        // The moved tasks, at most two rewritten parts around them, and two headers.
        assertThat(written).isLessThanOrEqualTo(movedBytes + 2L * SPLIT_THRESHOLD + 16 * 1024)
                .isLessThan(wholeBig / 10);
        Stat steadyAfter = agentSide.checkExists().forPath(ZkLayout.allocation(CLUSTER, "steady"));
        assertThat(steadyAfter.getMzxid()).isEqualTo(steadyBefore.getMzxid());
        assertThat(largestNode(ZkLayout.allocations(CLUSTER))).isLessThanOrEqualTo(SPLIT_THRESHOLD);
    }
}
