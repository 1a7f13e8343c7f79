package io.cloudtask.controlplane.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.SpecRequest;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class AgentGatewayTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

    @Value("${grpc.server.port}")
    int grpcPort;

    RestClient rest;
    ManagedChannel channel;

    @BeforeEach
    void connect() {
        rest = new RestClient(server.getURI());
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    /** A real client stream that records everything the control plane sends. */
    private final class AgentStream implements StreamObserver<ControlMessage> {
        final List<ControlMessage> received = new CopyOnWriteArrayList<>();
        final AtomicReference<Status> closedWith = new AtomicReference<>();
        final StreamObserver<AgentMessage> out = AgentGatewayGrpc.newStub(channel).connect(this);

        @Override
        public void onNext(ControlMessage message) {
            received.add(message);
        }

        @Override
        public void onError(Throwable t) {
            closedWith.set(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            closedWith.set(Status.OK);
        }

        void hello(String agentId, String cluster) {
            out.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId(agentId).setCluster(cluster)
                    .setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId(agentId).setHostname("test-host")
                            .setOs("linux").setArch("amd64"))).build());
        }

        long lastAck() {
            return received.stream().filter(ControlMessage::hasAck)
                    .mapToLong(m -> m.getAck().getJournalSequence()).max().orElse(0);
        }
    }

    private String createTask(String name) {
        return rest.post("/api/v1/tasks", "{\"name\": \"" + name + "\", \"command\": \"echo hi\","
                + " \"schedules\": [{\"expression\": \"* * * * * ?\"}]}").json().get("id").asText();
    }

    @Test
    void welcomesAnAgentAndAnswersSpecRequests() {
        String taskId = createTask("spec-task");
        AgentStream agent = new AgentStream();
        agent.hello("agent-spec", "default");
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.received.stream().anyMatch(ControlMessage::hasWelcome));

        agent.out.onNext(AgentMessage.newBuilder().setSpecRequest(SpecRequest.newBuilder()
                .addTaskIds(taskId).addTaskIds("00000000-0000-0000-0000-000000000001").addTaskIds("garbage")).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.received.stream().anyMatch(ControlMessage::hasTaskSpecs));
        var specs = agent.received.stream().filter(ControlMessage::hasTaskSpecs).findFirst().orElseThrow().getTaskSpecs();
        assertThat(specs.getSpecsList()).singleElement().satisfies(spec -> {
            assertThat(spec.getTaskId()).isEqualTo(taskId);
            assertThat(spec.getCommand().getShell()).isEqualTo("echo hi");
            assertThat(spec.getSchedules(0).getCron().getExpression()).isEqualTo("* * * * * ?");
            assertThat(spec.getVersion()).isEqualTo(1);
        });
        assertThat(specs.getMissingTaskIdsList()).containsExactlyInAnyOrder("00000000-0000-0000-0000-000000000001", "garbage");
        agent.out.onCompleted();
    }

    @Test
    void storesReportedRunsOnceAndAcknowledgesAfterCommit() {
        String taskId = createTask("ingested-task");
        Instant fire = Instant.parse("2026-05-01T10:00:00Z");
        String runId = RunIds.runId(taskId, fire, 1);
        byte[] binary = {(byte) 0xff, (byte) 0xfe, 'o', 'k', '\n'};
        List<AgentMessage> events = new ArrayList<>();
        events.add(AgentMessage.newBuilder().setJournalSequence(1).setRunStarted(RunStarted.newBuilder().setRunId(runId)
                .setTaskId(taskId).setFireTime(Timestamps.of(fire)).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE)
                .setSpecVersion(1).setStartedAt(Timestamps.of(fire.plusMillis(2))).setPid(42)).build());
        events.add(chunk(2, runId, 0, OutputStream.OUTPUT_STREAM_STDOUT, "hello ".getBytes()));
        events.add(chunk(3, runId, 1, OutputStream.OUTPUT_STREAM_STDERR, "warn\n".getBytes()));
        events.add(chunk(4, runId, 2, OutputStream.OUTPUT_STREAM_STDOUT, binary));
        events.add(AgentMessage.newBuilder().setJournalSequence(5).setRunFinished(RunFinished.newBuilder().setRunId(runId)
                .setTaskId(taskId).setFireTime(Timestamps.of(fire)).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE)
                .setSpecVersion(1).setStartedAt(Timestamps.of(fire.plusMillis(2)))
                .setFinishedAt(Timestamps.of(fire.plusMillis(30))).setStatus(RunStatus.RUN_STATUS_FAILED)
                .setExitCode(3).setHasExitCode(true).setOutputChunkCount(3).setOutputBytes(16)).build());

        AgentStream first = new AgentStream();
        first.hello("agent-runs", "default");
        events.forEach(first.out::onNext);
        await().atMost(Duration.ofSeconds(10)).until(() -> first.lastAck() == 5);
        first.out.onCompleted();

        // A reconnecting agent replays what it is unsure of: nothing changes.
        AgentStream replay = new AgentStream();
        replay.hello("agent-runs", "default");
        events.forEach(replay.out::onNext);
        await().atMost(Duration.ofSeconds(10)).until(() -> replay.lastAck() == 5);
        replay.out.onCompleted();

        JsonNode runs = rest.get("/api/v1/tasks/" + taskId + "/runs").json().get("runs");
        assertThat(runs).hasSize(1);
        JsonNode run = rest.get("/api/v1/runs/" + runId).json();
        assertThat(run.get("status").asText()).isEqualTo("FAILED");
        assertThat(run.get("exitCode").asInt()).isEqualTo(3);
        assertThat(run.get("agentId").asText()).isEqualTo("agent-runs");
        assertThat(run.get("outputComplete").asBoolean()).isTrue();
        assertThat(run.get("output").asText()).startsWith("hello warn\n");
        byte[] all = rest.getBytes("/api/v1/runs/" + runId + "/output");
        byte[] expected = new byte[16];
        System.arraycopy("hello warn\n".getBytes(), 0, expected, 0, 11);
        System.arraycopy(binary, 0, expected, 11, 5);
        assertThat(all).containsExactly(expected);
        assertThat(rest.getBytes("/api/v1/runs/" + runId + "/output?stream=stderr")).containsExactly("warn\n".getBytes());
        assertThat(rest.get("/api/v1/runs/" + runId + "/output?stream=both").status()).isEqualTo(400);
    }

    @Test
    void refusesAnUnknownClusterAndEventsBeforeHello() {
        AgentStream stranger = new AgentStream();
        stranger.hello("agent-x", "nowhere");
        await().atMost(Duration.ofSeconds(10)).until(() -> stranger.closedWith.get() != null);
        assertThat(stranger.closedWith.get().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(stranger.closedWith.get().getDescription()).contains("'nowhere' does not exist");

        AgentStream rude = new AgentStream();
        rude.out.onNext(chunk(1, "00000000-0000-0000-0000-000000000009", 0, OutputStream.OUTPUT_STREAM_STDOUT, new byte[] {1}));
        await().atMost(Duration.ofSeconds(10)).until(() -> rude.closedWith.get() != null);
        assertThat(rude.closedWith.get().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(rude.closedWith.get().getDescription()).contains("must be hello");
    }

    private static AgentMessage chunk(long journal, String runId, long sequence, OutputStream stream, byte[] data) {
        return AgentMessage.newBuilder().setJournalSequence(journal).setOutputChunk(OutputChunk.newBuilder()
                .setRunId(runId).setSequence(sequence).setStream(stream).setData(ByteString.copyFrom(data))).build();
    }
}
