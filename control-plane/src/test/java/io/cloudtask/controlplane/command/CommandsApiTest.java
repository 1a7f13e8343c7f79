package io.cloudtask.controlplane.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.controlplane.testing.TestAgentStream;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.CommandAck;
import io.cloudtask.proto.v1.CommandOutcome;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Run now and kill over REST, delivered over a real agent stream on a real gRPC port, with the
 * agent's liveness and assignment in a real ZooKeeper and commands in a real PostgreSQL.
 */
@MicronautTest(environments = "test", transactional = false)
class CommandsApiTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final AtomicLong AGENTS = new AtomicLong();

    @Inject
    EmbeddedServer server;

    @Value("${grpc.server.port}")
    int grpcPort;

    RestClient rest;
    ManagedChannel channel;
    CuratorFramework agentSide;

    @Override
    protected Map<String, String> extraProperties() {
        return Map.of("cloudtask.commands.ttl", "3s", "cloudtask.commands.sweep-interval", "200ms");
    }

    @BeforeEach
    void connect() {
        rest = new RestClient(server.getURI());
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
        agentSide = CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), 4000, 4000, new RetryOneTime(100));
        agentSide.start();
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
        agentSide.close();
    }

    private TestAgentStream agent(String agentId) {
        return new TestAgentStream(channel).hello(agentId, "default");
    }

    private static List<RunNow> runNows(TestAgentStream agent) {
        return agent.received(ControlMessage::hasRunNow, ControlMessage::getRunNow);
    }

    private static List<KillRun> kills(TestAgentStream agent) {
        return agent.received(ControlMessage::hasKillRun, ControlMessage::getKillRun);
    }

    /** Answers every command, as an agent does, with {@code answer}. */
    private static java.util.function.Function<ControlMessage, AgentMessage> answering(
            java.util.function.Function<ControlMessage, CommandAck> answer) {
        return message -> message.hasRunNow() || message.hasKillRun()
                ? AgentMessage.newBuilder().setCommandAck(answer.apply(message)).build() : null;
    }

    private static CommandAck accept(ControlMessage command) {
        String id = command.hasRunNow() ? command.getRunNow().getCommandId() : command.getKillRun().getCommandId();
        return CommandAck.newBuilder().setCommandId(id).setOutcome(CommandOutcome.COMMAND_OUTCOME_ACCEPTED)
                .setMessage("done").build();
    }

    /** Registers an agent in ZooKeeper and waits until the allocation gives it the task. */
    private String agentHolding(String taskId) throws Exception {
        String agentId = "cmd-agent-" + AGENTS.incrementAndGet();
        agentSide.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(ZkLayout.agent("default", agentId), ZkLayout.encode(AgentInfo.newBuilder().setAgentId(agentId)
                        .setCluster("default").setHostname(agentId + ".example").setOs("linux").setArch("amd64")
                        .setCapacity(100).build()));
        await().atMost(WAIT).until(() -> holders(taskId).contains(agentId));
        return agentId;
    }

    private List<String> holders(String taskId) throws Exception {
        List<String> holders = new java.util.ArrayList<>();
        String root = ZkLayout.allocations("default");
        if (agentSide.checkExists().forPath(root) == null) {
            return holders;
        }
        for (String agent : agentSide.getChildren().forPath(root)) {
            var assignment = ZkLayout.decodeAssignment(agentSide.getData().forPath(ZkLayout.allocation("default", agent)));
            if (assignment.getTasksList().stream().map(AssignedTask::getTaskId).anyMatch(taskId::equals)) {
                holders.add(agent);
            }
        }
        return holders;
    }

    private String createTask(String name, String commandJson) {
        RestClient.Response created = rest.post("/api/v1/tasks", "{\"name\": \"" + name + "\", " + commandJson
                + ", \"schedules\": [], \"environment\": {\"FROM_TASK\": \"1\"}}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json().get("id").asText();
    }

    @Test
    void runNowSendsTheCurrentSpecWithOverridesAndWaitsForTheAgentsAnswer() throws Exception {
        String taskId = createTask("run-now-task", "\"argv\": [\"/bin/echo\", \"default\"]");
        String agentId = agentHolding(taskId);
        TestAgentStream agent = agent(agentId);
        agent.respondWith(answering(CommandsApiTest::accept));
        assertThat(rest.put("/api/v1/tasks/" + taskId, "{\"name\": \"run-now-task\", \"argv\": [\"/bin/echo\", \"edited\"],"
                + " \"schedules\": [], \"version\": 1}").status()).isEqualTo(200);

        RestClient.Response response = rest.post("/api/v1/tasks/" + taskId + "/runs?wait=10",
                "{\"arguments\": [\"x y\", \"z\"], \"environment\": {\"GREETING\": \"hi\"}}");

        assertThat(response.status()).as(response.body()).isEqualTo(202);
        JsonNode command = response.json();
        assertThat(command.get("state").asText()).isEqualTo("ACCEPTED");
        assertThat(command.get("kind").asText()).isEqualTo("RUN_NOW");
        assertThat(command.get("agentId").asText()).isEqualTo(agentId);
        assertThat(command.get("message").asText()).isEqualTo("done");
        String commandId = command.get("id").asText();
        assertThat(command.get("runId").asText()).isEqualTo(RunIds.commandRunId(taskId, commandId, 1));
        RunNow runNow = runNows(agent).get(0);
        assertThat(runNow.getCommandId()).isEqualTo(commandId);
        assertThat(runNow.getSpec().getVersion()).as("the edit saved just before is what runs").isEqualTo(2);
        assertThat(runNow.getSpec().getCommand().getArgv().getArgsList()).containsExactly("/bin/echo", "edited");
        assertThat(runNow.getArguments().getArgsList()).containsExactly("x y", "z");
        assertThat(runNow.getEnvironmentMap()).containsExactly(Map.entry("GREETING", "hi"));
        assertThat(runNow.getTrigger()).isEqualTo(Trigger.TRIGGER_MANUAL);
        assertThat(rest.get("/api/v1/commands/" + commandId).json().get("state").asText()).isEqualTo("ACCEPTED");
    }

    @Test
    void aManualRunAndAScheduledFireAtTheSameInstantAreTwoRuns() throws Exception {
        String taskId = createTask("same-instant-task", "\"command\": \"true\"");
        String agentId = agentHolding(taskId);
        TestAgentStream agent = agent(agentId);
        agent.respondWith(answering(CommandsApiTest::accept));
        JsonNode command = rest.post("/api/v1/tasks/" + taskId + "/runs", "").json();
        RunNow runNow = runNows(agent).get(0);
        Instant instant = Timestamps.toInstant(runNow.getRequestedAt());
        String manualRun = command.get("runId").asText();
        String scheduledRun = RunIds.runId(taskId, instant, 1);

        agent.send(finished(1, manualRun, taskId, instant, Trigger.TRIGGER_MANUAL, command.get("id").asText()));
        agent.send(finished(2, scheduledRun, taskId, instant, Trigger.TRIGGER_SCHEDULE, ""));

        await().atMost(WAIT).until(() -> rest.get("/api/v1/runs/" + manualRun).status() == 200
                && rest.get("/api/v1/runs/" + scheduledRun).status() == 200);
        JsonNode manual = rest.get("/api/v1/runs/" + manualRun).json();
        assertThat(manual.get("trigger").asText()).isEqualTo("MANUAL");
        assertThat(manual.get("commandId").asText()).isEqualTo(command.get("id").asText());
        assertThat(rest.get("/api/v1/runs/" + scheduledRun).json().get("commandId").isNull()).isTrue();
    }

    @Test
    void anUnansweredCommandIsDeliveredAgainOnTheAgentsNextStreamAndExpiresWithoutAnAnswer() throws Exception {
        String taskId = createTask("redelivered-task", "\"command\": \"true\"");
        String agentId = agentHolding(taskId);
        TestAgentStream first = agent(agentId);

        JsonNode command = rest.post("/api/v1/tasks/" + taskId + "/runs?wait=0", "").json();
        String commandId = command.get("id").asText();
        await().atMost(WAIT).until(() -> !runNows(first).isEmpty());
        assertThat(rest.get("/api/v1/commands/" + commandId).json().get("state").asText()).isEqualTo("DELIVERED");
        first.complete();

        TestAgentStream second = agent(agentId);
        await().atMost(WAIT).until(() -> !runNows(second).isEmpty());
        assertThat(runNows(second).get(0).getCommandId()).isEqualTo(commandId);

        await().atMost(WAIT).until(() -> rest.get("/api/v1/commands/" + commandId).json().get("state").asText()
                .equals("EXPIRED"));
        assertThat(rest.get("/api/v1/commands/" + commandId).json().get("message").asText())
                .contains("did not answer");
        // An answer after expiry changes nothing.
        second.send(AgentMessage.newBuilder().setCommandAck(CommandAck.newBuilder().setCommandId(commandId)
                .setOutcome(CommandOutcome.COMMAND_OUTCOME_ACCEPTED)).build());
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() ->
                rest.get("/api/v1/commands/" + commandId).json().get("state").asText().equals("EXPIRED"));
    }

    @Test
    void aCommandForAnAgentWithoutAStreamWaitsPendingUntilItConnects() throws Exception {
        String taskId = createTask("pending-task", "\"command\": \"true\"");
        String agentId = agentHolding(taskId);

        JsonNode command = rest.post("/api/v1/tasks/" + taskId + "/runs?wait=0", "").json();
        assertThat(command.get("state").asText()).isEqualTo("PENDING");

        TestAgentStream agent = agent(agentId);
        await().atMost(WAIT).until(() -> !runNows(agent).isEmpty());
        assertThat(runNows(agent).get(0).getCommandId()).isEqualTo(command.get("id").asText());
    }

    @Test
    void killSendsTheReasonToTheRunsAgentAndRecordsARejection() throws Exception {
        String taskId = createTask("kill-task", "\"command\": \"sleep 60\"");
        String agentId = agentHolding(taskId);
        TestAgentStream agent = agent(agentId);
        Instant fire = Instant.parse("2026-05-01T10:00:00Z");
        String runId = RunIds.runId(taskId, fire, 1);
        agent.send(AgentMessage.newBuilder().setJournalSequence(1).setRunStarted(RunStarted.newBuilder().setRunId(runId)
                .setTaskId(taskId).setFireTime(Timestamps.of(fire)).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE)
                .setSpecVersion(1).setStartedAt(Timestamps.of(fire))).build());
        await().atMost(WAIT).until(() -> rest.get("/api/v1/runs/" + runId).status() == 200);
        agent.respondWith(answering(message -> CommandAck.newBuilder().setCommandId(message.getKillRun().getCommandId())
                .setOutcome(CommandOutcome.COMMAND_OUTCOME_REJECTED).setMessage("run is not running on this agent")
                .build()));

        RestClient.Response response = rest.post("/api/v1/runs/" + runId + "/kill", "{\"reason\": \"stuck\"}");

        assertThat(response.status()).as(response.body()).isEqualTo(202);
        assertThat(response.json().get("kind").asText()).isEqualTo("KILL_RUN");
        assertThat(response.json().get("state").asText()).isEqualTo("REJECTED");
        assertThat(response.json().get("message").asText()).isEqualTo("run is not running on this agent");
        assertThat(kills(agent)).singleElement().satisfies(kill -> {
            assertThat(kill.getRunId()).isEqualTo(runId);
            assertThat(kill.getReason()).isEqualTo("killed on request: stuck");
        });

        agent.send(finished(2, runId, taskId, fire, Trigger.TRIGGER_SCHEDULE, ""));
        await().atMost(WAIT).until(() -> rest.get("/api/v1/runs/" + runId).json().get("status").asText().equals("SUCCEEDED"));
        RestClient.Response again = rest.post("/api/v1/runs/" + runId + "/kill", "");
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().get("message").asText()).contains("is SUCCEEDED, not RUNNING");
    }

    @Test
    void badRequestsNameTheFieldAndStoreNothing() {
        String taskId = createTask("bad-request-task", "\"command\": \"true\"");

        assertError(rest.post("/api/v1/tasks/" + taskId + "/runs", "{\"arguments\": [\"a\", null]}"), 400, "arguments[1]");
        assertError(rest.post("/api/v1/tasks/" + taskId + "/runs", "{\"environment\": {\"1BAD\": \"x\"}}"), 400,
                "environment.1BAD");
        assertError(rest.post("/api/v1/tasks/" + taskId + "/runs", "{\"environment\": {\"CLOUDTASK_RUN_ID\": \"x\"}}"),
                400, "environment.CLOUDTASK_RUN_ID");
        assertError(rest.post("/api/v1/tasks/" + taskId + "/runs?wait=soon", ""), 400, "wait");
        assertError(rest.post("/api/v1/tasks/" + taskId + "/runs?wait=99", ""), 400, "wait");
        assertError(rest.post("/api/v1/tasks/00000000-0000-0000-0000-000000000001/runs", ""), 404, null);
        assertError(rest.post("/api/v1/runs/00000000-0000-0000-0000-000000000001/kill", ""), 404, null);
        assertError(rest.get("/api/v1/commands/00000000-0000-0000-0000-000000000001"), 404, null);
        assertError(rest.post("/api/v1/runs/" + taskId + "/kill", "{\"reason\": \"" + "x".repeat(1001) + "\"}"), 400,
                "reason");
    }

    @Test
    void runNowOfATaskNoAgentHoldsSaysWhatToDo() {
        assertThat(rest.post("/api/v1/clusters", "{\"name\": \"empty\", \"requireJoinToken\": false}").status())
                .isEqualTo(201);
        RestClient.Response created = rest.post("/api/v1/tasks", "{\"name\": \"orphan\", \"cluster\": \"empty\","
                + " \"command\": \"true\", \"schedules\": []}");
        String taskId = created.json().get("id").asText();

        RestClient.Response response = rest.post("/api/v1/tasks/" + taskId + "/runs", "");

        assertThat(response.status()).isEqualTo(409);
        assertThat(response.json().get("message").asText()).contains("not assigned to any agent")
                .contains("start or uncordon an agent");
    }

    private static void assertError(RestClient.Response response, int status, String field) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        JsonNode error = response.json();
        assertThat(Optional.ofNullable(error.get("field")).filter(f -> !f.isNull()).map(JsonNode::asText).orElse(null))
                .as(response.body()).isEqualTo(field);
        assertThat(error.get("message").asText()).isNotBlank();
    }

    private static AgentMessage finished(long sequence, String runId, String taskId, Instant fire, Trigger trigger,
            String commandId) {
        return AgentMessage.newBuilder().setJournalSequence(sequence).setRunFinished(RunFinished.newBuilder()
                .setRunId(runId).setTaskId(taskId).setFireTime(Timestamps.of(fire)).setAttempt(1).setTrigger(trigger)
                .setSpecVersion(1).setStartedAt(Timestamps.of(fire)).setFinishedAt(Timestamps.of(fire.plusMillis(5)))
                .setStatus(RunStatus.RUN_STATUS_SUCCEEDED).setHasExitCode(true).setCommandId(commandId)).build();
    }
}
