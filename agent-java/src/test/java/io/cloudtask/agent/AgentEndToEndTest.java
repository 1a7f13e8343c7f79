package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** The whole agent in-process: real ZooKeeper (TestingServer), a fake gateway, real processes. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class AgentEndToEndTest {
    private static final String TASK = "0b9e2a52-6c3e-4bd4-a0f3-1d2f1c8e7a01";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path workDir;

    private TestZooKeeper zk;
    private FakeGateway gateway;

    @BeforeEach
    void start() throws Exception {
        zk = new TestZooKeeper();
        gateway = new FakeGateway("agent-e2e-" + System.nanoTime()).start();
        gateway.autoAck = true;
    }

    @AfterEach
    void stop() throws Exception {
        gateway.close();
        zk.close();
    }

    @Test
    void runsAnAssignedTaskEverySecondAndStopsWithinMillisecondsOfItsRemoval() throws Exception {
        serve(TestSpecs.shell(TASK, "echo hello-$CLOUDTASK_RUN_ID"));
        try (Agent agent = new Agent(TestAgents.config(workDir, zk.connectString()), Clock.systemUTC(), gateway.channels())) {
            agent.start();

            zk.publish("default", "agent-1", 1, TASK);

            await().atMost(WAIT).until(() -> succeeded().size() >= 2);
            for (RunFinished finished : succeeded()) {
                assertThat(output(finished.getRunId())).isEqualTo("hello-" + finished.getRunId() + "\n");
                assertThat(finished.getOutputChunkCount()).isEqualTo(chunks(finished.getRunId()).size());
            }
            assertThat(agent.scheduledTaskIds()).containsExactly(TASK);

            zk.publish("default", "agent-1", 2);

            await().atMost(Duration.ofSeconds(2)).until(() -> !agent.scheduledTaskIds().contains(TASK));
            // A fire handed off just before the removal may still report; let it finish first.
            await().atMost(WAIT).until(() -> runsStarted() == runsFinished());
            long startedBefore = runsStarted();
            await().during(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(4)).until(() -> runsStarted() == startedBefore);
            assertThat(workDir.resolve("specs").resolve(TASK + ".pb")).doesNotExist();
        }
    }

    @Test
    void fetchesSpecsIntoTheDiskCacheAndKeepsFiringFromItAfterARestartWithoutControlPlane() throws Exception {
        serve(TestSpecs.shell(TASK, "touch fired-$CLOUDTASK_RUN_ID"));
        Path specFile = workDir.resolve("specs").resolve(TASK + ".pb");
        Path taskDir = workDir.resolve("tasks").resolve(TASK);
        AgentConfig config = TestAgents.config(workDir, zk.connectString());
        try (Agent agent = new Agent(config, Clock.systemUTC(), gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);

            await().atMost(WAIT).until(() -> Files.exists(specFile));
            assertThat(TaskSpec.parseFrom(Files.readAllBytes(specFile)).getTaskId()).isEqualTo(TASK);
            assertThat(gateway.current().received).anySatisfy(m ->
                    assertThat(m.getSpecRequest().getTaskIdsList()).containsExactly(TASK));
        }
        gateway.close();

        try (Agent restarted = new Agent(config, Clock.systemUTC(),
                address -> InProcessChannelBuilder.forName("control-plane-is-down").build())) {
            restarted.start();

            await().atMost(WAIT).until(() -> restarted.scheduledTaskIds().contains(TASK));
            long firedBefore = countFiles(taskDir);
            await().atMost(WAIT).until(() -> countFiles(taskDir) >= firedBefore + 2);
            assertThat(restarted.isConnectedToControlPlane()).isFalse();
        }
    }

    @Test
    void runEventsSpooledBeforeARestartAreSentAfterItAndSequencesContinue() throws Exception {
        serve(TestSpecs.shell(TASK, "echo spooled-$CLOUDTASK_RUN_ID"));
        // The control plane receives events but never commits them: nothing is acknowledged.
        gateway.autoAck = false;
        AgentConfig config = TestAgents.config(workDir, zk.connectString());
        long lastBeforeRestart;
        try (Agent agent = new Agent(config, Clock.systemUTC(), gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);
            await().atMost(WAIT).until(() -> finishedRunIds(gateway.runEvents()).size() >= 2);

            zk.publish("default", "agent-1", 2);
            await().atMost(Duration.ofSeconds(2)).until(() -> agent.scheduledTaskIds().isEmpty());
            await().atMost(WAIT).until(() -> runsStarted() == runsFinished() && agent.activeRuns() == 0);
            lastBeforeRestart = agent.spoolStats().lastSequence();
            assertThat(agent.spoolStats().acknowledgedSequence()).isZero();
        }
        int streamsBeforeRestart = gateway.streams.size();
        gateway.autoAck = true;

        try (Agent restarted = new Agent(config, Clock.systemUTC(), gateway.channels())) {
            restarted.start();

            await().atMost(WAIT).until(() -> restarted.spoolStats().acknowledgedSequence() >= lastBeforeRestart);
            List<AgentMessage> afterRestart = gateway.streams.subList(streamsBeforeRestart, gateway.streams.size())
                    .stream().flatMap(stream -> stream.runEvents().stream()).toList();
            assertThat(afterRestart).extracting(AgentMessage::getJournalSequence)
                    .containsAll(LongStream.rangeClosed(1, lastBeforeRestart).boxed().toList());
            Set<String> finished = finishedRunIds(afterRestart);
            assertThat(finished).hasSizeGreaterThanOrEqualTo(2);
            for (String runId : finished) {
                assertThat(output(afterRestart, runId)).isEqualTo("spooled-" + runId + "\n");
            }
            assertThat(restarted.spoolStats().lastSequence()).isEqualTo(lastBeforeRestart);
        }
    }

    private void serve(TaskSpec spec) {
        gateway.specs = request -> {
            TaskSpecs.Builder answer = TaskSpecs.newBuilder();
            for (String id : request.getTaskIdsList()) {
                if (id.equals(spec.getTaskId())) {
                    answer.addSpecs(spec);
                } else {
                    answer.addMissingTaskIds(id);
                }
            }
            return answer.build();
        };
    }

    private List<RunFinished> succeeded() {
        return gateway.runEvents().stream().filter(AgentMessage::hasRunFinished).map(AgentMessage::getRunFinished)
                .filter(f -> f.getStatus() == RunStatus.RUN_STATUS_SUCCEEDED).distinct().toList();
    }

    private long runsStarted() {
        return gateway.runEvents().stream().filter(AgentMessage::hasRunStarted)
                .filter(m -> m.getRunStarted().getTaskId().equals(TASK)).count();
    }

    private long runsFinished() {
        return gateway.runEvents().stream().filter(AgentMessage::hasRunFinished)
                .filter(m -> m.getRunFinished().getTaskId().equals(TASK)).count();
    }

    private static Set<String> finishedRunIds(List<AgentMessage> events) {
        return events.stream().filter(AgentMessage::hasRunFinished).map(m -> m.getRunFinished().getRunId())
                .collect(Collectors.toSet());
    }

    private static String output(List<AgentMessage> events, String runId) {
        return events.stream().filter(AgentMessage::hasOutputChunk).map(AgentMessage::getOutputChunk)
                .filter(c -> c.getRunId().equals(runId)).distinct().map(OutputChunk::getData)
                .reduce(ByteString.EMPTY, ByteString::concat).toString(StandardCharsets.UTF_8);
    }

    private List<OutputChunk> chunks(String runId) {
        return gateway.runEvents().stream().filter(AgentMessage::hasOutputChunk).map(AgentMessage::getOutputChunk)
                .filter(c -> c.getRunId().equals(runId)).distinct().toList();
    }

    private String output(String runId) {
        return chunks(runId).stream().map(OutputChunk::getData).reduce(ByteString.EMPTY, ByteString::concat)
                .toString(StandardCharsets.UTF_8);
    }

    private static long countFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().startsWith("fired-")).count();
        }
    }
}
