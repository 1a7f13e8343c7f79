package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.task.PlacementRequest;
import io.cloudtask.controlplane.task.TaskRequest;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.controlplane.task.ScheduleRequest;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class AllocationPublisherTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Inject
    TaskService tasks;

    @Inject
    AllocationPublisher publisher;

    @Inject
    EmbeddedServer server;

    CuratorFramework agentSide;

    @BeforeEach
    void connectAsAgents() {
        agentSide = CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), 4000, 4000, new RetryOneTime(100));
        agentSide.start();
    }

    @AfterEach
    void disconnect() {
        agentSide.close();
    }

    private void joinAgent(String agentId) throws Exception {
        joinAgent("default", AgentInfo.newBuilder().setAgentId(agentId).setCluster("default").build());
    }

    private void joinAgent(String cluster, AgentInfo info) throws Exception {
        agentSide.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(ZkLayout.agent(cluster, info.getAgentId()), ZkLayout.encode(info));
    }

    private Assignment assignment(String agentId) throws Exception {
        return assignment("default", agentId);
    }

    private Assignment assignment(String cluster, String agentId) throws Exception {
        String path = ZkLayout.allocation(cluster, agentId);
        if (agentSide.checkExists().forPath(path) == null) {
            return Assignment.getDefaultInstance();
        }
        return ZkLayout.decodeAssignment(agentSide.getData().forPath(path));
    }

    private List<String> taskIds(String agentId) throws Exception {
        return assignment(agentId).getTasksList().stream().map(AssignedTask::getTaskId).toList();
    }

    private static TaskRequest request(String name, String command) {
        return request(name, null, command);
    }

    private static TaskRequest request(String name, String cluster, String command) {
        return TaskRequest.shell(name, cluster, command, List.of(ScheduleRequest.cron("* * * * * ?")));
    }

    @Test
    void publishesTasksToLiveAgentsAndFollowsEditsDeletesAndDepartures() throws Exception {
        await().atMost(WAIT).until(publisher::isLeader);
        joinAgent("agent-a");
        UUID taskId = tasks.create(request("alloc-1", "echo one")).id();
        await().atMost(WAIT).until(() -> taskIds("agent-a").contains(taskId.toString()));
        long epochAfterCreate = assignment("agent-a").getEpoch();

        AssignedTask created = assignment("agent-a").getTasksList().stream()
                .filter(t -> t.getTaskId().equals(taskId.toString())).findFirst().orElseThrow();
        assertThat(created.hasAssignedAt()).isTrue();
        // An edit changes the spec version but not when the task was assigned to the agent.
        tasks.replace(taskId, request("alloc-1", "echo two"));
        await().atMost(WAIT).until(() -> assignment("agent-a").getTasksList().contains(
                created.toBuilder().setSpecVersion(2).build()));
        assertThat(assignment("agent-a").getEpoch()).isGreaterThan(epochAfterCreate);

        joinAgent("agent-b");
        for (int i = 0; i < 20; i++) {
            tasks.create(request("alloc-many-" + i, "true"));
        }
        await().atMost(WAIT).until(() -> taskIds("agent-a").size() + taskIds("agent-b").size() == 21);
        assertThat(taskIds("agent-b")).isNotEmpty();
        List<String> onA = taskIds("agent-a");

        agentSide.delete().forPath(ZkLayout.agent("default", "agent-b"));
        await().atMost(WAIT).until(() -> taskIds("agent-a").size() == 21 && taskIds("agent-b").isEmpty());
        assertThat(taskIds("agent-a")).containsAll(onA);

        tasks.delete(taskId);
        await().atMost(WAIT).until(() -> !taskIds("agent-a").contains(taskId.toString()));
        long epoch = assignment("agent-a").getEpoch();
        long written = publisher.publications();
        publisher.requestPublish();
        await().during(Duration.ofMillis(500)).atMost(WAIT).until(() -> assignment("agent-a").getEpoch() == epoch);
        assertThat(publisher.publications()).isEqualTo(written);
    }

    private static TaskRequest placed(String name, String cluster, PlacementRequest placement) {
        TaskRequest shell = request(name, cluster, "true");
        return new TaskRequest(shell.name(), shell.cluster(), shell.command(), null, null, shell.schedules(), null,
                null, null, null, null, null, null, null, null, placement, null);
    }

    @Test
    void placesTasksByTheirPlacementAndMovesThemWhenItChanges() throws Exception {
        await().atMost(WAIT).until(publisher::isLeader);
        assertThat(new RestClient(server.getURI()).post("/api/v1/clusters", "{\"name\": \"placed\"}").status())
                .isEqualTo(201);
        joinAgent("placed", AgentInfo.newBuilder().setAgentId("win-1").setCluster("placed").setOs("windows")
                .setHostname("WIN-1.example").putLabels("zone", "a").build());
        joinAgent("placed", AgentInfo.newBuilder().setAgentId("lin-1").setCluster("placed").setOs("linux")
                .putLabels("zone", "b").build());
        String windows = tasks.create(placed("on-windows", "placed", new PlacementRequest("labels", null, "os=windows")))
                .id().toString();
        String byHost = tasks.create(placed("by-host", "placed", new PlacementRequest("hosts", List.of("win-1.EXAMPLE"), null)))
                .id().toString();
        String everywhere = tasks.create(placed("everywhere", "placed", new PlacementRequest("broadcast", null, null)))
                .id().toString();
        String zoneB = tasks.create(placed("zone-b", "placed", new PlacementRequest("broadcast", null, "zone=b")))
                .id().toString();
        await().atMost(WAIT).until(() -> assignment("placed", "win-1").getTasksCount() == 3
                && assignment("placed", "lin-1").getTasksCount() == 2);
        assertThat(ids(assignment("placed", "win-1"))).containsExactlyInAnyOrder(windows, byHost, everywhere);
        assertThat(ids(assignment("placed", "lin-1"))).containsExactlyInAnyOrder(everywhere, zoneB);

        tasks.replace(UUID.fromString(windows), placed("on-windows", "placed", new PlacementRequest("labels", null,
                "os=linux")));
        await().atMost(WAIT).until(() -> ids(assignment("placed", "lin-1")).contains(windows)
                && !ids(assignment("placed", "win-1")).contains(windows));

        String nowhere = tasks.create(placed("nowhere", "placed", new PlacementRequest("labels", null, "os=solaris")))
                .id().toString();
        RestClient rest = new RestClient(server.getURI());
        await().atMost(WAIT).until(() -> rest.get("/api/v1/clusters/placed/allocation").json()
                .get("unassignedCount").asInt() == 1);
        JsonNode allocation = rest.get("/api/v1/clusters/placed/allocation").json();
        assertThat(allocation.get("taskCount").asInt()).isEqualTo(5);
        assertThat(allocation.get("agents")).extracting(agent -> agent.get("agentId").asText() + ":"
                + agent.get("taskCount").asInt() + ":" + agent.get("online").asBoolean())
                .containsExactly("lin-1:3:true", "win-1:2:true");
        assertThat(allocation.get("agents").get(0).has("taskIds")).isFalse();
        assertThat(allocation.get("agents").get(0).get("epoch").asLong()).isPositive();
        assertThat(allocation.get("unassigned").get(0).get("taskId").asText()).isEqualTo(nowhere);
        assertThat(allocation.get("unassigned").get(0).get("reason").asText()).isEqualTo("NO_MATCHING_AGENT");
        assertThat(allocation.get("reasonsFrom").isNull()).isFalse();

        JsonNode oneAgent = rest.get("/api/v1/clusters/placed/allocation?agentId=win-1").json();
        assertThat(oneAgent.get("agents")).singleElement().satisfies(agent -> assertThat(agent.get("taskIds"))
                .extracting(JsonNode::asText).containsExactlyInAnyOrder(byHost, everywhere));
        assertThat(rest.get("/api/v1/clusters/placed/allocation?agentId=nobody").json().get("field").asText())
                .isEqualTo("agentId");
        assertThat(rest.get("/api/v1/clusters/no-such-cluster/allocation").status()).isEqualTo(404);
    }

    private static List<String> ids(Assignment assignment) {
        return assignment.getTasksList().stream().map(AssignedTask::getTaskId).toList();
    }

    @Test
    void spreadsTasksByTheCapacityEachAgentPublishes() throws Exception {
        await().atMost(WAIT).until(publisher::isLeader);
        assertThat(new RestClient(server.getURI()).post("/api/v1/clusters", "{\"name\": \"weighted\"}").status())
                .isEqualTo(201);
        joinAgent("weighted", AgentInfo.newBuilder().setAgentId("heavy").setCluster("weighted").setCapacity(3)
                .setOs("linux").putLabels("zone", "a").build());
        joinAgent("weighted", AgentInfo.newBuilder().setAgentId("light").setCluster("weighted").build());
        for (int i = 0; i < 8; i++) {
            tasks.create(request("weighted-" + i, "weighted", "true"));
        }
        await().atMost(WAIT).until(() -> assignment("weighted", "heavy").getTasksCount()
                + assignment("weighted", "light").getTasksCount() == 8);
        // Capacity 3 against an unset capacity, which counts as 1.
        assertThat(assignment("weighted", "heavy").getTasksCount()).isEqualTo(6);
        assertThat(assignment("weighted", "light").getTasksCount()).isEqualTo(2);
    }
}
