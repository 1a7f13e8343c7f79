package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.controlplane.testing.TestAgentStream;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.GetRunRequest;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.Run;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunOutputEvent;
import io.cloudtask.proto.v1.RunServiceGrpc;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TailRunOutputRequest;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The gRPC RunService over a real port, with runs reported over a real agent stream. */
@MicronautTest(environments = "test", transactional = false)
class RunGrpcServiceTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final AtomicLong JOURNAL = new AtomicLong();

    @Inject
    EmbeddedServer server;

    @Value("${grpc.server.port}")
    int grpcPort;

    RestClient rest;
    ManagedChannel channel;
    TestAgentStream agent;

    @BeforeEach
    void connect() {
        rest = new RestClient(server.getURI());
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
        agent = new TestAgentStream(channel).hello("tail-agent", "default");
    }

    @AfterEach
    void disconnect() {
        agent.complete();
        channel.shutdownNow();
    }

    private synchronized void report(AgentMessage.Builder event) {
        agent.send(event.setJournalSequence(JOURNAL.incrementAndGet()).build());
    }

    private String startRun(String name) {
        String taskId = rest.post("/api/v1/tasks", "{\"name\": \"" + name + "\", \"command\": \"true\", \"schedules\": []}")
                .json().get("id").asText();
        Instant fire = Instant.parse("2026-07-01T10:00:00Z");
        String runId = RunIds.runId(taskId, fire, 1);
        report(AgentMessage.newBuilder().setRunStarted(RunStarted.newBuilder().setRunId(runId).setTaskId(taskId)
                .setFireTime(Timestamps.of(fire)).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE).setSpecVersion(1)
                .setStartedAt(Timestamps.of(fire))));
        await().atMost(WAIT).until(() -> rest.get("/api/v1/runs/" + runId).status() == 200);
        return runId;
    }

    private void chunk(String runId, long sequence, OutputStream stream, byte[] data) {
        report(AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder().setRunId(runId).setSequence(sequence)
                .setStream(stream).setData(ByteString.copyFrom(data))));
    }

    private void finish(String runId, long chunks) {
        Run run = runs().getRun(GetRunRequest.newBuilder().setRunId(runId).build());
        report(AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder().setRunId(runId).setTaskId(run.getTaskId())
                .setFireTime(run.getFireTime()).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE).setSpecVersion(1)
                .setStartedAt(run.getStartedAt()).setFinishedAt(Timestamps.of(Instant.parse("2026-07-01T10:00:01Z")))
                .setStatus(RunStatus.RUN_STATUS_FAILED).setHasExitCode(true).setExitCode(2).setOutputChunkCount(chunks)));
    }

    private RunServiceGrpc.RunServiceBlockingStub runs() {
        return RunServiceGrpc.newBlockingStub(channel);
    }

    /** Collects a tail's events. */
    private static final class Collector implements StreamObserver<RunOutputEvent> {
        final List<RunOutputEvent> events = new CopyOnWriteArrayList<>();
        final AtomicBoolean completed = new AtomicBoolean();

        @Override
        public void onNext(RunOutputEvent event) {
            events.add(event);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
            completed.set(true);
        }

        String text() {
            StringBuilder text = new StringBuilder();
            events.stream().filter(RunOutputEvent::hasChunk)
                    .forEach(e -> text.append(e.getChunk().getData().toString(StandardCharsets.UTF_8)));
            return text.toString();
        }
    }

    @Test
    void tailsARunningRunLiveAndEndsWithItsStatus() {
        String runId = startRun("tailed");
        chunk(runId, 0, OutputStream.OUTPUT_STREAM_STDOUT, "one\n".getBytes(StandardCharsets.UTF_8));
        Collector tail = new Collector();
        RunServiceGrpc.newStub(channel).tailRunOutput(TailRunOutputRequest.newBuilder().setRunId(runId).build(), tail);
        await().atMost(WAIT).until(() -> tail.text().equals("one\n"));

        chunk(runId, 1, OutputStream.OUTPUT_STREAM_STDERR, "two\n".getBytes(StandardCharsets.UTF_8));
        chunk(runId, 2, OutputStream.OUTPUT_STREAM_STDOUT, new byte[] {(byte) 0xff, 'x'});
        finish(runId, 3);

        await().atMost(WAIT).until(tail.completed::get);
        assertThat(tail.events).hasSize(4);
        assertThat(tail.events.subList(0, 3)).extracting(e -> e.getChunk().getSequence()).containsExactly(0L, 1L, 2L);
        assertThat(tail.events.get(1).getChunk().getStream()).isEqualTo(OutputStream.OUTPUT_STREAM_STDERR);
        assertThat(tail.events.get(2).getChunk().getData().toByteArray()).containsExactly((byte) 0xff, 'x');
        assertThat(tail.events.get(3).getEnded().getStatus()).isEqualTo(RunStatus.RUN_STATUS_FAILED);

        Collector resumed = new Collector();
        RunServiceGrpc.newStub(channel).tailRunOutput(TailRunOutputRequest.newBuilder().setRunId(runId)
                .setFromSequence(2).build(), resumed);
        await().atMost(WAIT).until(resumed.completed::get);
        assertThat(resumed.events).hasSize(2);
        assertThat(resumed.events.get(0).getChunk().getSequence()).isEqualTo(2);

        Run run = runs().getRun(GetRunRequest.newBuilder().setRunId(runId).build());
        assertThat(run.getStatus()).isEqualTo(RunStatus.RUN_STATUS_FAILED);
        assertThat(run.getExitCode()).isEqualTo(2);
        assertThat(run.getHasExitCode()).isTrue();
        assertThat(run.getTrigger()).isEqualTo(Trigger.TRIGGER_SCHEDULE);
        assertThat(run.getAgentId()).isEqualTo("tail-agent");
    }

    @Test
    void unknownAndMalformedRunIdsAreNamedErrors() {
        assertThatThrownBy(() -> runs().getRun(GetRunRequest.newBuilder().setRunId("00000000-0000-0000-0000-000000000001")
                .build())).isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
        assertThatThrownBy(() -> runs().getRun(GetRunRequest.newBuilder().setRunId("nope").build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).contains("run_id");
                });
        var events = runs().tailRunOutput(TailRunOutputRequest.newBuilder()
                .setRunId("00000000-0000-0000-0000-000000000001").build());
        assertThatThrownBy(events::hasNext).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }
}
