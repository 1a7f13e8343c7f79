package io.cloudtask.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.run.RunIngestion;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The agents API (PostgreSQL merged with ZooKeeper), cordon and drain, observed on the Assignment znodes. */
@MicronautTest(environments = "test", transactional = false)
class AgentsApiTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    @Inject
    EmbeddedServer server;

    @Inject
    RunIngestion ingestion;

    @Value("${grpc.server.port}")
    int grpcPort;

    RestClient rest;
    CuratorFramework agentSide;

    @BeforeEach
    void connect() {
        rest = new RestClient(server.getURI());
        agentSide = CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), 4000, 4000, new RetryOneTime(100));
        agentSide.start();
    }

    @AfterEach
    void disconnect() {
        agentSide.close();
    }

    private void openCluster(String name) {
        assertThat(rest.post("/api/v1/clusters", "{\"name\": \"" + name + "\", \"requireJoinToken\": false}").status())
                .isEqualTo(201);
    }

    private void register(String cluster, String agentId) throws Exception {
        agentSide.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(ZkLayout.agent(cluster, agentId), ZkLayout.encode(AgentInfo.newBuilder().setAgentId(agentId)
                        .setCluster(cluster).setHostname(agentId + ".example").setOs("linux").setArch("amd64")
                        .setCapacity(2).setAgentVersion("0.9").putLabels("zone", "a").build()));
    }

    private Set<String> assigned(String cluster, String agentId) throws Exception {
        String path = ZkLayout.allocation(cluster, agentId);
        if (agentSide.checkExists().forPath(path) == null) {
            return Set.of();
        }
        Assignment assignment = ZkLayout.decodeAssignment(agentSide.getData().forPath(path));
        Set<String> ids = new HashSet<>();
        assignment.getTasksList().stream().map(AssignedTask::getTaskId).forEach(ids::add);
        return ids;
    }

    private List<String> createTasks(String cluster, String prefix, int count) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            RestClient.Response created = rest.post("/api/v1/tasks", "{\"name\": \"" + prefix + i + "\", \"cluster\": \""
                    + cluster + "\", \"command\": \"true\", \"schedules\": []}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
            ids.add(created.json().get("id").asText());
        }
        return ids;
    }

    private JsonNode agent(String id) {
        return rest.get("/api/v1/agents/" + id).json();
    }

    @Test
    void listsKnownAgentsAsOnlineOrOfflineAsTheirEphemeralNodesComeAndGo() throws Exception {
        openCluster("listing");
        ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
        try {
            AtomicBoolean welcomed = new AtomicBoolean();
            StreamObserver<AgentMessage> out = AgentGatewayGrpc.newStub(channel).connect(new StreamObserver<>() {
                @Override
                public void onNext(ControlMessage message) {
                    welcomed.compareAndSet(false, message.hasWelcome());
                }

                @Override
                public void onError(Throwable t) {
                    welcomed.set(false);
                }

                @Override
                public void onCompleted() {
                    welcomed.set(false);
                }
            });
            out.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId("seen-1").setCluster("listing")
                    .setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId("seen-1").setHostname("seen.example")
                            .setOs("linux").setArch("arm64").setCapacity(3).putLabels("rack", "r1"))).build());
            await().atMost(WAIT).untilTrue(welcomed);
            JsonNode offline = rest.get("/api/v1/agents?cluster=listing").json();
            assertThat(offline).hasSize(1);
            assertThat(offline.get(0).get("id").asText()).isEqualTo("seen-1");
            assertThat(offline.get(0).get("online").asBoolean()).isFalse();
            assertThat(offline.get(0).get("hostname").asText()).isEqualTo("seen.example");
            assertThat(offline.get(0).get("labels").get("rack").asText()).isEqualTo("r1");
            assertThat(offline.get(0).get("capacity").asInt()).isEqualTo(3);
            assertThat(offline.get(0).get("lastSeen").isNull()).isFalse();

            register("listing", "seen-1");
            register("listing", "zk-only");
            JsonNode online = rest.get("/api/v1/agents?cluster=listing").json();
            assertThat(online).extracting(node -> node.get("id").asText()).containsExactly("seen-1", "zk-only");
            assertThat(online).allSatisfy(node -> assertThat(node.get("online").asBoolean()).isTrue());
            assertThat(online.get(0).get("connectedReplica").isNull()).isFalse();
            assertThat(online.get(1).get("lastSeen").isNull()).isTrue();
            assertThat(online.get(1).get("version").asText()).isEqualTo("0.9");
            out.onCompleted();

            agentSide.delete().forPath(ZkLayout.agent("listing", "seen-1"));
            await().atMost(WAIT).until(() -> !agent("seen-1").get("online").asBoolean());
            assertThat(agent("zk-only").get("online").asBoolean()).isTrue();
            assertThat(rest.get("/api/v1/agents").json()).extracting(node -> node.get("id").asText())
                    .contains("seen-1", "zk-only");
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aCordonedAgentKeepsItsTasksWhileNewTasksAvoidIt() throws Exception {
        openCluster("cordon");
        register("cordon", "c-a");
        register("cordon", "c-b");
        List<String> first = createTasks("cordon", "first-", 6);
        await().atMost(WAIT).until(() -> assigned("cordon", "c-a").size() + assigned("cordon", "c-b").size() == 6
                && !assigned("cordon", "c-a").isEmpty());
        Set<String> onA = assigned("cordon", "c-a");

        JsonNode cordoned = rest.post("/api/v1/agents/c-a/cordon", "").json();
        assertThat(cordoned.get("cordoned").asBoolean()).isTrue();
        assertThat(cordoned.get("draining").asBoolean()).isFalse();
        List<String> later = createTasks("cordon", "later-", 4);
        await().atMost(WAIT).until(() -> assigned("cordon", "c-b").containsAll(later));
        assertThat(assigned("cordon", "c-a")).isEqualTo(onA);
        JsonNode view = agent("c-a");
        assertThat(view.get("assignedTaskCount").asInt()).isEqualTo(onA.size());
        assertThat(view.get("assignedTaskIds")).extracting(JsonNode::asText).containsExactlyInAnyOrderElementsOf(onA);
        assertThat(first).containsAll(onA);

        assertThat(rest.post("/api/v1/agents/c-a/uncordon", "").json().get("cordoned").asBoolean()).isFalse();
    }

    @Test
    void drainingAnAgentMovesItsTasksToTheOtherAgent() throws Exception {
        openCluster("drain");
        register("drain", "d-a");
        register("drain", "d-b");
        List<String> tasks = createTasks("drain", "d-", 8);
        await().atMost(WAIT).until(() -> assigned("drain", "d-a").size() + assigned("drain", "d-b").size() == 8
                && !assigned("drain", "d-a").isEmpty());
        assertThat(agent("d-a").get("drained").asBoolean()).isFalse();

        JsonNode draining = rest.post("/api/v1/agents/d-a/drain", "").json();
        assertThat(draining.get("cordoned").asBoolean()).isTrue();
        assertThat(draining.get("draining").asBoolean()).isTrue();
        await().atMost(WAIT).until(() -> assigned("drain", "d-a").isEmpty());
        assertThat(assigned("drain", "d-b")).containsExactlyInAnyOrderElementsOf(tasks);
        JsonNode drained = agent("d-a");
        assertThat(drained.get("drained").asBoolean()).isTrue();
        assertThat(drained.get("assignedTaskCount").asInt()).isZero();

        // Uncordoned, it counts as joining and takes a share back.
        rest.post("/api/v1/agents/d-a/uncordon", "");
        await().atMost(WAIT).until(() -> !assigned("drain", "d-a").isEmpty());
        assertThat(agent("d-a").get("draining").asBoolean()).isFalse();
    }

    @Test
    void drainingKeepsATaskWhoseRunIsInFlightOnItsAgentUntilTheRunEnds() throws Exception {
        openCluster("pinned");
        register("pinned", "p-a");
        register("pinned", "p-b");
        createTasks("pinned", "p-", 6);
        await().atMost(WAIT).until(() -> assigned("pinned", "p-a").size() + assigned("pinned", "p-b").size() == 6
                && !assigned("pinned", "p-a").isEmpty());
        String busy = assigned("pinned", "p-a").iterator().next();
        Instant fire = Instant.parse("2026-09-01T00:00:00Z");
        RunStarted started = RunStarted.newBuilder().setRunId(RunIds.runId(busy, fire, 1)).setTaskId(busy)
                .setFireTime(Timestamps.of(fire)).setAttempt(1).setSpecVersion(1).build();
        ingestion.ingest("p-a", "pinned", List.of(AgentMessage.newBuilder().setRunStarted(started).build()));
        assertThat(agent("p-a").get("runningRuns").asInt()).isEqualTo(1);
        assertThat(rest.get("/api/v1/agents?cluster=pinned").json()).extracting(a -> a.get("runningRuns").asInt())
                .containsExactly(1, 0);

        rest.post("/api/v1/agents/p-a/drain", "");
        await().atMost(WAIT).until(() -> assigned("pinned", "p-a").equals(Set.of(busy))
                && assigned("pinned", "p-b").size() == 5);
        assertThat(agent("p-a").get("drained").asBoolean()).isFalse();

        ingestion.ingest("p-a", "pinned", List.of(AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder()
                .setRunId(started.getRunId()).setTaskId(busy).setFireTime(started.getFireTime()).setAttempt(1)
                .setSpecVersion(1).setFinishedAt(Timestamps.of(fire.plusSeconds(1)))
                .setStatus(RunStatus.RUN_STATUS_SUCCEEDED).setHasExitCode(true)).build()));
        // No signal on a run's end: the periodic reconcile (2 s in tests) moves the task.
        await().atMost(WAIT).until(() -> assigned("pinned", "p-a").isEmpty() && assigned("pinned", "p-b").size() == 6);
        assertThat(agent("p-a").get("runningRuns").asInt()).isZero();
        assertThat(agent("p-a").get("drained").asBoolean()).isTrue();
    }

    @Test
    void drainingWithoutWaitingForRunsMovesATaskWhoseRunIsInFlightAtOnceAndLetsTheRunFinish() throws Exception {
        openCluster("no-wait");
        register("no-wait", "n-a");
        register("no-wait", "n-b");
        List<String> tasks = createTasks("no-wait", "n-", 6);
        await().atMost(WAIT).until(() -> assigned("no-wait", "n-a").size() + assigned("no-wait", "n-b").size() == 6
                && !assigned("no-wait", "n-a").isEmpty());
        String busy = assigned("no-wait", "n-a").iterator().next();
        ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
        try {
            // The agent's own stream reports the run, as a real agent would.
            List<Long> acked = new java.util.concurrent.CopyOnWriteArrayList<>();
            AtomicBoolean welcomed = new AtomicBoolean();
            StreamObserver<AgentMessage> out = AgentGatewayGrpc.newStub(channel).connect(new StreamObserver<>() {
                @Override
                public void onNext(ControlMessage message) {
                    welcomed.compareAndSet(false, message.hasWelcome());
                    if (message.hasAck()) {
                        acked.add(message.getAck().getJournalSequence());
                    }
                }

                @Override
                public void onError(Throwable t) {
                    welcomed.set(false);
                }

                @Override
                public void onCompleted() {
                    welcomed.set(false);
                }
            });
            out.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId("n-a").setCluster("no-wait")
                    .setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId("n-a").setHostname("n-a.example")
                            .setOs("linux").setArch("amd64").setCapacity(2).putLabels("zone", "a"))).build());
            await().atMost(WAIT).untilTrue(welcomed);
            Instant fire = Instant.parse("2026-09-01T00:00:00Z");
            RunStarted started = RunStarted.newBuilder().setRunId(RunIds.runId(busy, fire, 1)).setTaskId(busy)
                    .setFireTime(Timestamps.of(fire)).setAttempt(1).setSpecVersion(1).build();
            out.onNext(AgentMessage.newBuilder().setRunStarted(started).setJournalSequence(1).build());
            await().atMost(WAIT).until(() -> acked.contains(1L));
            assertThat(agent("n-a").get("runningRuns").asInt()).isEqualTo(1);

            JsonNode draining = rest.post("/api/v1/agents/n-a/drain?waitForRuns=false", "").json();
            assertThat(draining.get("draining").asBoolean()).isTrue();
            assertThat(draining.get("waitForRuns").asBoolean()).isFalse();
            await().atMost(WAIT).until(() -> assigned("no-wait", "n-a").isEmpty());
            assertThat(assigned("no-wait", "n-b")).containsExactlyInAnyOrderElementsOf(tasks);
            // The run was not killed: it is still in flight on the drained agent.
            JsonNode drained = agent("n-a");
            assertThat(drained.get("drained").asBoolean()).isTrue();
            assertThat(drained.get("runningRuns").asInt()).isEqualTo(1);
            assertThat(rest.get("/api/v1/runs/" + started.getRunId()).json().get("status").asText())
                    .isEqualTo("RUNNING");

            out.onNext(AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder().setRunId(started.getRunId())
                    .setTaskId(busy).setFireTime(started.getFireTime()).setAttempt(1).setSpecVersion(1)
                    .setFinishedAt(Timestamps.of(fire.plusSeconds(1))).setStatus(RunStatus.RUN_STATUS_SUCCEEDED)
                    .setHasExitCode(true)).setJournalSequence(2).build());
            await().atMost(WAIT).until(() -> acked.contains(2L));
            assertThat(rest.get("/api/v1/runs/" + started.getRunId()).json().get("status").asText())
                    .isEqualTo("SUCCEEDED");
            assertThat(agent("n-a").get("runningRuns").asInt()).isZero();
            assertThat(assigned("no-wait", "n-b")).contains(busy);
            out.onCompleted();
        } finally {
            channel.shutdownNow();
        }

        assertThat(rest.post("/api/v1/agents/n-a/uncordon", "").json().get("waitForRuns").asBoolean()).isTrue();
    }

    @Test
    void aDrainOptionThatIsNotABooleanNamesTheField() throws Exception {
        openCluster("drain-option");
        register("drain-option", "o-a");
        RestClient.Response bad = rest.post("/api/v1/agents/o-a/drain?waitForRuns=maybe", "");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("field").asText()).isEqualTo("waitForRuns");
        assertThat(agent("o-a").get("draining").asBoolean()).isFalse();
        JsonNode waiting = rest.post("/api/v1/agents/o-a/drain?waitForRuns=TRUE", "").json();
        assertThat(waiting.get("draining").asBoolean()).isTrue();
        assertThat(waiting.get("waitForRuns").asBoolean()).isTrue();
    }

    @Test
    void anUnknownAgentIsNotFoundAndAnUnknownClusterFilterNamesTheField() {
        RestClient.Response missing = rest.get("/api/v1/agents/no-such-agent");
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().get("message").asText()).contains("'no-such-agent' does not exist");
        assertThat(rest.post("/api/v1/agents/no-such-agent/cordon", "").status()).isEqualTo(404);
        assertThat(rest.post("/api/v1/agents/no-such-agent/drain", "").status()).isEqualTo(404);
        RestClient.Response badCluster = rest.get("/api/v1/agents?cluster=nowhere");
        assertThat(badCluster.status()).isEqualTo(400);
        assertThat(badCluster.json().get("field").asText()).isEqualTo("cluster");
    }
}
