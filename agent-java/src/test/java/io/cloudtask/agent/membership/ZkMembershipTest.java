package io.cloudtask.agent.membership;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.agent.Agent;
import io.cloudtask.agent.AgentConfig;
import io.cloudtask.agent.MutableClock;
import io.cloudtask.agent.TestAgents;
import io.cloudtask.agent.TestZooKeeper;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.AssignmentPart;
import io.cloudtask.protocol.ZkLayout;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's ZooKeeper side against a real in-process ZooKeeper server; no control plane is running. */
class ZkMembershipTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path workDir;

    private TestZooKeeper zk;
    private Agent agent;
    private String agentPath;

    @BeforeEach
    void start() throws Exception {
        zk = new TestZooKeeper();
        AgentConfig config = TestAgents.config(workDir, zk.connectString());
        agentPath = ZkLayout.agent("default", "agent-1");
        // Nothing listens on this in-process name: the gateway just keeps retrying in the background.
        agent = new Agent(config, new MutableClock(Instant.parse("2030-01-01T00:00:00Z")),
                address -> InProcessChannelBuilder.forName("no-control-plane-here").build());
        agent.start();
    }

    @AfterEach
    void stop() throws Exception {
        agent.close();
        zk.close();
    }

    @Test
    void registersAnEphemeralNodeWithTheAgentInfo() throws Exception {
        await().atMost(WAIT).until(() -> zk.client.checkExists().forPath(agentPath) != null);

        assertThat(zk.client.checkExists().forPath(agentPath).getEphemeralOwner()).isNotZero();
        AgentInfo info = ZkLayout.decodeAgentInfo(zk.client.getData().forPath(agentPath));
        assertThat(info.getAgentId()).isEqualTo("agent-1");
        assertThat(info.getCluster()).isEqualTo("default");
        assertThat(info.getHostname()).isNotEmpty();
        assertThat(info.getOs()).isNotEmpty();
        assertThat(info.getArch()).isNotEmpty();
        assertThat(info.getLabelsMap()).containsEntry("zone", "a");
        assertThat(info.getCapacity()).isEqualTo(3);
        assertThat(info.getAgentVersion()).isNotEmpty();
        assertThat(info.getProtocolVersion()).isEqualTo(1);
        assertThat(info.getStartedAt().getSeconds()).isEqualTo(Instant.parse("2030-01-01T00:00:00Z").getEpochSecond());
    }

    @Test
    void appliesAPublishedAssignmentAndIgnoresALowerEpoch() throws Exception {
        zk.publish("default", "agent-1", 5, "task-a", "task-b");
        await().atMost(WAIT).until(() -> agent.assignedTaskIds().equals(java.util.Set.of("task-a", "task-b")));
        assertThat(agent.appliedEpoch()).hasValue(5);

        zk.publish("default", "agent-1", 3, "task-c");
        await().during(Duration.ofMillis(800)).atMost(WAIT)
                .until(() -> agent.assignedTaskIds().equals(java.util.Set.of("task-a", "task-b")));

        zk.publish("default", "agent-1", 6, "task-c");
        await().atMost(WAIT).until(() -> agent.assignedTaskIds().equals(java.util.Set.of("task-c")));
        assertThat(agent.appliedEpoch()).hasValue(6);
    }

    @Test
    void assemblesASplitAssignmentFromItsPartsAndSkipsATornOne() throws Exception {
        String path = ZkLayout.allocation("default", "agent-1");
        zk.publish("default", "agent-1", 1, "task-a");
        await().atMost(WAIT).until(() -> agent.appliedEpoch().equals(java.util.OptionalLong.of(1)));
        writePart(2, 0, "task-b", "task-c");
        writePart(2, 1, "task-d");
        zk.client.setData().forPath(path, ZkLayout.encode(Assignment.newBuilder().setEpoch(2).setAgentId("agent-1")
                .setCluster("default").addPartEpochs(2).addPartEpochs(2).build()));
        await().atMost(WAIT).until(() -> agent.assignedTaskIds().equals(java.util.Set.of("task-b", "task-c", "task-d")));

        // A header naming a part that is not there (a reader fell behind): nothing is applied.
        zk.client.setData().forPath(path, ZkLayout.encode(Assignment.newBuilder().setEpoch(3).setAgentId("agent-1")
                .setCluster("default").addPartEpochs(2).addPartEpochs(3).build()));
        await().during(Duration.ofMillis(500)).atMost(WAIT).until(() -> agent.appliedEpoch().getAsLong() == 2);

        // Epoch 4 keeps part 0 of epoch 2 and rewrites part 1.
        writePart(4, 1, "task-e");
        zk.client.setData().forPath(path, ZkLayout.encode(Assignment.newBuilder().setEpoch(4).setAgentId("agent-1")
                .setCluster("default").addPartEpochs(2).addPartEpochs(4).build()));
        await().atMost(WAIT).until(() -> agent.assignedTaskIds().equals(java.util.Set.of("task-b", "task-c", "task-e")));
        assertThat(agent.appliedEpoch()).hasValue(4);
    }

    private void writePart(long epoch, int index, String... taskIds) throws Exception {
        AssignmentPart.Builder part = AssignmentPart.newBuilder().setEpoch(epoch).setIndex(index);
        for (String taskId : taskIds) {
            part.addTasks(AssignedTask.newBuilder().setTaskId(taskId).setSpecVersion(1));
        }
        zk.client.create().forPath(ZkLayout.allocationPart("default", "agent-1", epoch, index),
                ZkLayout.encode(part.build()));
    }

    @Test
    void stopsFiringWhenZooKeeperIsUnreachableAndResumesAfterReconciling() throws Exception {
        zk.publish("default", "agent-1", 1, "task-a");
        await().atMost(WAIT).until(agent::isFiring);

        zk.server.stop();
        await().atMost(WAIT).until(() -> !agent.isFiring());

        zk.server.restart();
        await().atMost(WAIT).until(agent::isFiring);
        assertThat(agent.assignedTaskIds()).containsExactly("task-a");
        await().atMost(WAIT).until(() -> zk.client.checkExists().forPath(agentPath) != null);
    }

    @Test
    void closingTheAgentRemovesItsNode() throws Exception {
        await().atMost(WAIT).until(() -> zk.client.checkExists().forPath(agentPath) != null);

        agent.close();

        assertThat(zk.client.checkExists().forPath(agentPath)).isNull();
    }
}
