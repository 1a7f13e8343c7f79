package io.cloudtask.agent.run;

import static io.cloudtask.agent.TestSpecs.argv;
import static io.cloudtask.agent.TestSpecs.shell;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.cloudtask.agent.TestPackages;
import io.cloudtask.agent.TestSpecs;
import io.cloudtask.agent.outbox.DiskRunEventOutbox;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.Command;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.Placement;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

@EnabledOnOs({OS.LINUX, OS.MAC})
class ProcessRunnerTest {
    private static final Instant FIRE = Instant.parse("2030-01-01T10:00:00Z");
    private static final String AGENT = "agent-7";

    @TempDir
    Path tasksDir;

    @TempDir
    Path spoolDir;

    private DiskRunEventOutbox outbox;
    private ProcessRunner runner;

    @BeforeEach
    void startRunner() throws IOException {
        outbox = new DiskRunEventOutbox(spoolDir, DiskRunEventOutbox.Options.forMaxBytes(64L << 20), Clock.systemUTC());
        outbox.open();
        runner = new ProcessRunner(tasksDir, TestPackages.NONE, Platform.current(), outbox, Clock.systemUTC());
    }

    @AfterEach
    void closeRunner() {
        runner.close();
        outbox.close();
    }

    @Test
    void capturesStdoutAndStderrAsTheExactBytesWritten() {
        Run run = run(shell("bytes", "printf 'out\\377\\376'; printf 'err\\001' >&2"));

        assertThat(run.output(OutputStream.OUTPUT_STREAM_STDOUT).toByteArray())
                .containsExactly('o', 'u', 't', 0xFF, 0xFE);
        assertThat(run.output(OutputStream.OUTPUT_STREAM_STDERR).toByteArray()).containsExactly('e', 'r', 'r', 0x01);
        assertThat(run.finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_SUCCEEDED);
        assertThat(run.finished.getHasExitCode()).isTrue();
        assertThat(run.finished.getExitCode()).isZero();
        assertThat(run.finished.getOutputBytes()).isEqualTo(9);
        assertThat(run.finished.getOutputChunkCount()).isEqualTo(run.chunks.size());
    }

    @Test
    void reportsTheRunIdentityInStartedAndFinished() {
        TaskSpec spec = TestSpecs.cron("identity", 7, TestSpecs.EVERY_SECOND)
                .setCommand(Command.newBuilder().setShell("true")).build();

        Run run = run(spec);

        String runId = RunIds.runId("identity", FIRE, 1);
        assertThat(run.started.getRunId()).isEqualTo(runId);
        assertThat(run.started.getTaskId()).isEqualTo("identity");
        assertThat(run.started.getAttempt()).isEqualTo(1);
        assertThat(run.started.getTrigger()).isEqualTo(Trigger.TRIGGER_SCHEDULE);
        assertThat(run.started.getSpecVersion()).isEqualTo(7);
        assertThat(run.started.getPid()).isPositive();
        assertThat(run.started.getFireTime().getSeconds()).isEqualTo(FIRE.getEpochSecond());
        assertThat(run.finished.getRunId()).isEqualTo(runId);
        assertThat(run.finished.getSpecVersion()).isEqualTo(7);
        assertThat(run.finished.getStartedAt()).isEqualTo(run.started.getStartedAt());
        assertThat(run.finished.getOutputChunkCount()).isZero();
    }

    @Test
    void aBroadcastFireIsThisAgentsOwnRunWithItsIdInTheRunIdAndTheBroadcastFlagSet() {
        TaskSpec spec = TestSpecs.cron("everywhere", 3, TestSpecs.EVERY_SECOND)
                .setCommand(Command.newBuilder().setShell("echo \"$CLOUDTASK_RUN_ID\""))
                .setPlacement(Placement.newBuilder().setKind(PlacementKind.PLACEMENT_KIND_BROADCAST)).build();

        Run run = run(spec);

        String runId = RunIds.broadcastRunId("everywhere", FIRE, 1, AGENT);
        assertThat(runId).isNotEqualTo(RunIds.runId("everywhere", FIRE, 1));
        assertThat(run.started.getRunId()).isEqualTo(runId);
        assertThat(run.started.getBroadcast()).isTrue();
        assertThat(run.finished.getRunId()).isEqualTo(runId);
        assertThat(run.finished.getBroadcast()).isTrue();
        assertThat(run.text(OutputStream.OUTPUT_STREAM_STDOUT)).isEqualTo(runId + "\n");
    }

    @Test
    void aSkippedBroadcastFireIsReportedUnderThisAgentsRunId() {
        TaskSpec spec = TestSpecs.cron("everywhere-skip", 3, TestSpecs.EVERY_SECOND)
                .setPlacement(Placement.newBuilder().setKind(PlacementKind.PLACEMENT_KIND_BROADCAST)).build();

        runner.reportNotRun(RunRequest.scheduled(spec, FIRE, AGENT), RunStatus.RUN_STATUS_SKIPPED, "still running");

        RunFinished finished = events(RunIds.broadcastRunId("everywhere-skip", FIRE, 1, AGENT)).get(0).getRunFinished();
        assertThat(finished.getBroadcast()).isTrue();
        assertThat(finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_SKIPPED);
    }

    @Test
    void aNonZeroExitCodeIsAFailureWithThatExitCode() {
        Run run = run(shell("exit3", "echo about to fail; exit 3"));

        assertThat(run.finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_FAILED);
        assertThat(run.finished.getHasExitCode()).isTrue();
        assertThat(run.finished.getExitCode()).isEqualTo(3);
        assertThat(run.finished.getError()).isEmpty();
    }

    @Test
    void aMissingProgramFailsWithTheReasonAndNoExitCode() {
        Run run = run(argv("missing", "/nonexistent/cloudtask-no-such-program", "--flag"));

        assertThat(run.started.getPid()).isZero();
        assertThat(run.finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_FAILED);
        assertThat(run.finished.getHasExitCode()).isFalse();
        assertThat(run.finished.getError()).contains("cloudtask-no-such-program");
        assertThat(run.chunks).isEmpty();
    }

    @Test
    void argvRunsTheProgramWithoutAShell() {
        Run run = run(argv("argv", "printf", "%s|", "$HOME", "a b"));

        assertThat(run.text(OutputStream.OUTPUT_STREAM_STDOUT)).isEqualTo("$HOME|a b|");
    }

    @Test
    void theProcessSeesTheTaskEnvironmentAndTheRunVariables() {
        TaskSpec spec = shell("env-task",
                "echo \"$CLOUDTASK_TASK_ID|$CLOUDTASK_RUN_ID|$CLOUDTASK_FIRE_TIME|$CLOUDTASK_ATTEMPT|$GREETING|$PATH\"")
                .toBuilder().putEnvironment("GREETING", "hello").build();

        Run run = run(spec);

        assertThat(run.text(OutputStream.OUTPUT_STREAM_STDOUT)).isEqualTo(
                "env-task|" + RunIds.runId("env-task", FIRE, 1) + "|2030-01-01T10:00:00Z|1|hello|"
                        + System.getenv("PATH") + "\n");
    }

    @Test
    void runsInThePerTaskWorkDirectoryUnlessTheTaskNamesOne(@TempDir Path elsewhere) throws IOException {
        Run inTaskDir = run(shell("wd-task", "pwd"));
        Run inGivenDir = run(shell("wd-given", "pwd").toBuilder()
                .setCommand(Command.newBuilder().setShell("pwd").setWorkingDirectory(elsewhere.toString())).build());

        assertThat(inTaskDir.text(OutputStream.OUTPUT_STREAM_STDOUT).trim())
                .isEqualTo(tasksDir.resolve("wd-task").toRealPath().toString());
        assertThat(inGivenDir.text(OutputStream.OUTPUT_STREAM_STDOUT).trim()).isEqualTo(elsewhere.toRealPath().toString());
    }

    @Test
    void stdinIsClosedSoAProgramReadingItEndsAtOnce() {
        Run run = run(shell("stdin", "cat; echo done"));

        assertThat(run.finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_SUCCEEDED);
        assertThat(run.text(OutputStream.OUTPUT_STREAM_STDOUT)).isEqualTo("done\n");
    }

    @Test
    void aTimeoutKillsTheWholeProcessTree() {
        TaskSpec spec = shell("timeout", "sleep 300 & echo $!; sleep 300").toBuilder()
                .setTimeout(TestSpecs.duration(Duration.ofSeconds(1))).build();

        Run run = run(spec);

        long parent = run.started.getPid();
        long child = Long.parseLong(run.text(OutputStream.OUTPUT_STREAM_STDOUT).trim());
        assertThat(run.finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_TIMED_OUT);
        assertThat(run.finished.getError()).contains("timed out");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(running(parent)).as("parent %d", parent).isFalse();
            assertThat(running(child)).as("background child %d", child).isFalse();
        });
    }

    @Test
    void chunkSequencesAreConsecutiveFromZeroAcrossBothStreams() {
        Run run = run(shell("many", "i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"));

        assertThat(run.chunks).extracting(OutputChunk::getSequence)
                .containsExactlyElementsOf(java.util.stream.LongStream.range(0, run.chunks.size()).boxed().toList());
        assertThat(run.finished.getOutputChunkCount()).isEqualTo(run.chunks.size());
        assertThat(run.finished.getOutputBytes()).isEqualTo(run.chunks.stream().mapToLong(c -> c.getData().size()).sum());
        assertThat(run.text(OutputStream.OUTPUT_STREAM_STDOUT)).startsWith("out0\nout1\n").endsWith("out299\n");
        assertThat(run.text(OutputStream.OUTPUT_STREAM_STDERR)).startsWith("err0\n").endsWith("err299\n");
    }

    @Test
    void aClosedRunnerRefusesNewRuns() {
        runner.close();

        assertThat(runner.submit(RunRequest.scheduled(shell("late", "true"), FIRE, AGENT))).isFalse();
    }

    @Test
    void aBurstOfRunsIsStartedByAFewLaunchersAndNoThreadWaitsForARunningProcess() {
        int runs = 40;
        List<RunHandle> handles = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            handles.add(runner.submit(RunRequest.scheduled(shell("burst-" + i, "sleep 30"), FIRE, AGENT),
                    RunListener.NONE));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> startedRuns() == runs);

        assertThat(threadsNamed("cloudtask-launch-")).isBetween(1L, (long) ProcessRunner.PROCESS_START_CONCURRENCY);
        // Supervisor threads only do short blocking work (packages, kills, the end of a run).
        assertThat(threadsNamed("cloudtask-run-")).isLessThan(runs / 4);

        handles.forEach(handle -> handle.kill("test over"));
        await().atMost(Duration.ofSeconds(20)).until(() -> runner.activeRuns() == 0);
    }

    private long startedRuns() {
        return outbox.read(0, 10_000, Long.MAX_VALUE).stream().filter(AgentMessage::hasRunStarted).count();
    }

    private static long threadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.isAlive() && thread.getName().startsWith(prefix)).count();
    }

    /** Zombie-aware: an exited child that PID 1 of this container never reaps is not running. */
    private static boolean running(long pid) throws IOException {
        if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
            } catch (NoSuchFileException e) {
                return false;
            }
        }
        return false;
    }

    private Run run(TaskSpec spec) {
        RunRequest request = RunRequest.scheduled(spec, FIRE, AGENT);
        assertThat(runner.submit(request)).isTrue();
        String runId = request.runId();
        await().atMost(Duration.ofSeconds(10)).until(() -> events(runId).stream().anyMatch(AgentMessage::hasRunFinished));
        List<AgentMessage> events = events(runId);
        // Journal order: RunStarted, the chunks, RunFinished last.
        assertThat(events.get(0).hasRunStarted()).isTrue();
        assertThat(events.get(events.size() - 1).hasRunFinished()).isTrue();
        return new Run(events.get(0).getRunStarted(),
                events.subList(1, events.size() - 1).stream().map(AgentMessage::getOutputChunk).toList(),
                events.get(events.size() - 1).getRunFinished());
    }

    private List<AgentMessage> events(String runId) {
        return outbox.read(0, Integer.MAX_VALUE, Long.MAX_VALUE).stream().filter(e -> runIdOf(e).equals(runId)).toList();
    }

    private static String runIdOf(AgentMessage event) {
        return switch (event.getBodyCase()) {
            case RUN_STARTED -> event.getRunStarted().getRunId();
            case OUTPUT_CHUNK -> event.getOutputChunk().getRunId();
            case RUN_FINISHED -> event.getRunFinished().getRunId();
            default -> "";
        };
    }

    private record Run(RunStarted started, List<OutputChunk> chunks, RunFinished finished) {
        ByteString output(OutputStream stream) {
            return chunks.stream().filter(c -> c.getStream() == stream).map(OutputChunk::getData)
                    .reduce(ByteString.EMPTY, ByteString::concat);
        }

        String text(OutputStream stream) {
            return output(stream).toString(StandardCharsets.UTF_8);
        }
    }
}
