package io.cloudtask.controlplane.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.run.RunService;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import io.grpc.stub.ServerCallStreamObserver;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Flow control around a batch, on a session driven by hand (its executor runs only when the test
 * says): the places a batch frees in the window are requested again before the batch is stored,
 * so the next messages travel while it is, and the batch is acknowledged only after its commit.
 */
@MicronautTest(environments = "test", transactional = false)
class AgentSessionFlowControlTest extends ControlPlaneTest {
    @Inject
    AgentGatewayService gateway;

    @Inject
    RunService runs;

    /** The response side of the stream: records requests and messages, with the run's state at each. */
    private final class RecordingStream extends ServerCallStreamObserver<ControlMessage> {
        final List<String> log = new ArrayList<>();
        UUID watchedRun;

        private String watched() {
            if (watchedRun == null) {
                return "";
            }
            try {
                return " (run " + runs.status(watchedRun) + ")";
            } catch (ApiException notStored) {
                return " (run not stored)";
            }
        }

        @Override
        public void request(int count) {
            log.add("request " + count + watched());
        }

        @Override
        public void onNext(ControlMessage message) {
            log.add(message.hasAck() ? "ack " + message.getAck().getJournalSequence() + watched()
                    : message.getBodyCase().name().toLowerCase());
        }

        @Override
        public void onError(Throwable t) {
            log.add("error " + t);
        }

        @Override
        public void onCompleted() {
            log.add("completed");
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void setOnCancelHandler(Runnable handler) {}

        @Override
        public void setCompression(String compression) {}

        @Override
        public boolean isReady() {
            return true;
        }

        @Override
        public void setOnReadyHandler(Runnable handler) {}

        @Override
        public void disableAutoInboundFlowControl() {}

        @Override
        public void disableAutoRequest() {}

        @Override
        public void setMessageCompression(boolean enable) {}
    }

    @Test
    void requestsTheNextMessagesBeforeStoringABatchAndAcknowledgesItAfterTheCommit() {
        Queue<Runnable> pool = new ArrayDeque<>();
        RecordingStream out = new RecordingStream();
        AgentSession session = new AgentSession(out, new SerialExecutor(pool::add), gateway, null);
        session.start();
        session.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId("agent-window")
                .setCluster("default").setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId("agent-window")
                        .setHostname("test-host").setOs("linux").setArch("amd64"))).build());
        runAll(pool);

        String taskId = UUID.randomUUID().toString();
        Instant fire = Instant.parse("2026-05-02T10:00:00Z");
        String runId = RunIds.runId(taskId, fire, 1);
        out.watchedRun = UUID.fromString(runId);
        // Both arrive before the session's executor gets to them: one batch.
        session.onNext(AgentMessage.newBuilder().setJournalSequence(1).setRunStarted(RunStarted.newBuilder()
                .setRunId(runId).setTaskId(taskId).setFireTime(Timestamps.of(fire)).setAttempt(1)
                .setTrigger(Trigger.TRIGGER_SCHEDULE).setSpecVersion(1)).build());
        session.onNext(AgentMessage.newBuilder().setJournalSequence(2).setRunFinished(RunFinished.newBuilder()
                .setRunId(runId).setTaskId(taskId).setFireTime(Timestamps.of(fire)).setAttempt(1)
                .setTrigger(Trigger.TRIGGER_SCHEDULE).setSpecVersion(1).setFinishedAt(Timestamps.of(fire.plusSeconds(1)))
                .setStatus(RunStatus.RUN_STATUS_SUCCEEDED).setHasExitCode(true)).build());
        runAll(pool);

        assertThat(out.log).containsExactly("request 1", "welcome", "request " + AgentSession.WINDOW, "request 1",
                "request 2 (run not stored)", "ack 2 (run SUCCEEDED)");
        session.onCompleted();
        runAll(pool);
    }

    private static void runAll(Queue<Runnable> pool) {
        for (Runnable task = pool.poll(); task != null; task = pool.poll()) {
            task.run();
        }
    }
}
