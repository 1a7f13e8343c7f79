package io.cloudtask.agent;

import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.ZkLayout;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/** An in-process ZooKeeper server with short ticks, and a client for the test's own writes. */
public final class TestZooKeeper implements AutoCloseable {
    /** 200 ms ticks: sessions negotiate between 0.4 s and 4 s, so tests never wait long. */
    private static final int TICK_MS = 200;

    public final TestingServer server;
    public final CuratorFramework client;

    public TestZooKeeper() throws Exception {
        server = new TestingServer(new InstanceSpec(null, -1, -1, -1, true, -1, TICK_MS, -1), true);
        client = CuratorFrameworkFactory.newClient(server.getConnectString(), 2_000, 1_000, new RetryOneTime(100));
        client.start();
        client.blockUntilConnected();
    }

    public String connectString() {
        return server.getConnectString();
    }

    /** Publishes an assignment as the control plane's allocator would. */
    public void publish(String cluster, String agentId, long epoch, String... taskIds) throws Exception {
        Assignment.Builder assignment = Assignment.newBuilder().setEpoch(epoch).setAgentId(agentId).setCluster(cluster);
        for (String taskId : taskIds) {
            assignment.addTasks(AssignedTask.newBuilder().setTaskId(taskId).setSpecVersion(1));
        }
        byte[] data = ZkLayout.encode(assignment.build());
        String path = ZkLayout.allocation(cluster, agentId);
        if (client.checkExists().forPath(path) == null) {
            client.create().creatingParentsIfNeeded().forPath(path, data);
        } else {
            client.setData().forPath(path, data);
        }
    }

    @Override
    public void close() throws Exception {
        client.close();
        server.close();
    }
}
