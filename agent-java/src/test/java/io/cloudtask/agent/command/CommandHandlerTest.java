package io.cloudtask.agent.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.agent.TestPackages;
import io.cloudtask.agent.TestSpecs;
import io.cloudtask.agent.outbox.DiskRunEventOutbox;
import io.cloudtask.agent.run.Platform;
import io.cloudtask.agent.run.ProcessRunner;
import io.cloudtask.agent.run.RunCoordinator;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ArgumentOverride;
import io.cloudtask.proto.v1.CommandAck;
import io.cloudtask.proto.v1.CommandOutcome;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** RunNow and KillRun with real processes, a real spool and a journal on disk. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class CommandHandlerTest {
    private static final String TASK = "manual-task";
    private static final Instant REQUESTED = Instant.parse("2030-01-01T10:00:00.123Z");
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path tasksDir;

    @TempDir
    Path spoolDir;

    @TempDir
    Path journalDir;

    private DiskRunEventOutbox outbox;
    private ProcessRunner runner;
    private RunCoordinator coordinator;
    private CommandJournal journal;
    private CommandHandler handler;
    private final List<CommandAck> acks = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        outbox = new DiskRunEventOutbox(spoolDir, DiskRunEventOutbox.Options.forMaxBytes(64L << 20), Clock.systemUTC());
        outbox.open();
        runner = new ProcessRunner(tasksDir, TestPackages.NONE, Platform.current(), outbox, Clock.systemUTC());
        coordinator = new RunCoordinator("agent-test", runner, () -> 0.0, request -> {
            throw new AssertionError("no strict task here");
        }, Clock.systemUTC());
        openHandler();
    }

    private void openHandler() throws IOException {
        journal = new CommandJournal(journalDir, Clock.systemUTC());
        journal.open();
        handler = new CommandHandler(journal, coordinator, acks::add, Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        coordinator.close();
        runner.close();
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
        await().atMost(WAIT).until(() -> runner.activeRuns() == 0);
        journal.close();
        outbox.close();
    }

    @Test
    void runsTheGivenSpecWithArgumentAndEnvironmentOverridesAsAManualFire() {
        TaskSpec spec = TestSpecs.argv(TASK, "/bin/sh", "-c", "echo original");
        handler.runNow(runNow("c-1", spec).setArguments(ArgumentOverride.newBuilder()
                        .addAllArgs(List.of("-c", "echo \"$0|$1|$GREETING|$CLOUDTASK_RUN_ID\"", "zero", "one")))
                .putEnvironment("GREETING", "hi").build());

        String runId = RunIds.commandRunId(TASK, "c-1", 1);
        RunFinished finished = await().atMost(WAIT).until(() -> finished(runId), Optional::isPresent).get();
        assertThat(finished.getStatus()).isEqualTo(RunStatus.RUN_STATUS_SUCCEEDED);
        assertThat(finished.getCommandId()).isEqualTo("c-1");
        RunStarted started = started(runId).orElseThrow();
        assertThat(started.getTrigger()).isEqualTo(Trigger.TRIGGER_MANUAL);
        assertThat(started.getCommandId()).isEqualTo("c-1");
        assertThat(Timestamps.toInstant(started.getFireTime())).isEqualTo(REQUESTED);
        assertThat(output(runId)).isEqualTo("zero|one|hi|" + runId + "\n");
        assertThat(acks).singleElement().satisfies(ack -> {
            assertThat(ack.getCommandId()).isEqualTo("c-1");
            assertThat(ack.getOutcome()).isEqualTo(CommandOutcome.COMMAND_OUTCOME_ACCEPTED);
        });
    }

    @Test
    void appendsArgumentsToAShellCommandEachQuotedAsOneWord() {
        TaskSpec spec = TestSpecs.shell(TASK, "printf '[%s]\\n'");
        handler.runNow(runNow("c-1", spec).setArguments(ArgumentOverride.newBuilder()
                .addAllArgs(List.of("a b", "it's", "$HOME", "; rm -rf /", ""))).build());

        String runId = RunIds.commandRunId(TASK, "c-1", 1);
        await().atMost(WAIT).until(() -> finished(runId).isPresent());
        assertThat(output(runId)).isEqualTo("[a b]\n[it's]\n[$HOME]\n[; rm -rf /]\n[]\n");
    }

    @Test
    void aCommandDeliveredAgainEvenAfterARestartRunsOnceAndGetsTheSameAnswer() throws IOException {
        TaskSpec spec = TestSpecs.shell(TASK, "echo once");
        handler.runNow(runNow("c-1", spec).build());
        handler.runNow(runNow("c-1", spec).build());
        journal.close();
        openHandler();
        handler.runNow(runNow("c-1", spec).build());

        String runId = RunIds.commandRunId(TASK, "c-1", 1);
        await().atMost(WAIT).until(() -> finished(runId).isPresent());
        assertThat(acks).hasSize(3).allSatisfy(ack -> {
            assertThat(ack.getCommandId()).isEqualTo("c-1");
            assertThat(ack.getOutcome()).isEqualTo(CommandOutcome.COMMAND_OUTCOME_ACCEPTED);
        });
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2))
                .until(() -> events().stream().filter(AgentMessage::hasRunStarted).count() == 1);
    }

    @Test
    void killEndsTheWholeTreeKilledWithTheReasonAndIsNeverRetried() {
        TaskSpec spec = TestSpecs.shell(TASK, "sleep 60 & sleep 61; wait").toBuilder().setMaxAttempts(3)
                .setKillGrace(TestSpecs.duration(Duration.ofSeconds(1))).build();
        handler.runNow(runNow("c-1", spec).build());
        String runId = RunIds.commandRunId(TASK, "c-1", 1);
        RunStarted started = await().atMost(WAIT).until(() -> started(runId), Optional::isPresent).get();
        ProcessHandle shell = ProcessHandle.of(started.getPid()).orElseThrow();
        await().atMost(WAIT).until(() -> shell.descendants().count() >= 2);
        List<ProcessHandle> tree = shell.descendants().toList();

        handler.killRun(KillRun.newBuilder().setCommandId("k-1").setRunId(runId).setReason("killed by alice").build());

        RunFinished killed = await().atMost(WAIT).until(() -> finished(runId), Optional::isPresent).get();
        assertThat(killed.getStatus()).isEqualTo(RunStatus.RUN_STATUS_KILLED);
        assertThat(killed.getError()).isEqualTo("killed by alice");
        assertThat(tree).noneMatch(Platform.current()::isRunning);
        await().atMost(WAIT).until(() -> ack("k-1").isPresent());
        assertThat(ack("k-1").orElseThrow().getOutcome()).isEqualTo(CommandOutcome.COMMAND_OUTCOME_ACCEPTED);
        await().during(Duration.ofMillis(1000)).atMost(Duration.ofSeconds(3))
                .until(() -> started(RunIds.commandRunId(TASK, "c-1", 2)).isEmpty());
    }

    @Test
    void killOfARunThatIsNotRunningHereIsRejectedWithTheReason() {
        handler.killRun(KillRun.newBuilder().setCommandId("k-1").setRunId("3b4f0e6e-0000-0000-0000-000000000000").build());

        CommandAck ack = await().atMost(WAIT).until(() -> ack("k-1"), Optional::isPresent).get();
        assertThat(ack.getOutcome()).isEqualTo(CommandOutcome.COMMAND_OUTCOME_REJECTED);
        assertThat(ack.getMessage()).contains("is not running on this agent");
    }

    @Test
    void aFailedManualRunIsRetriedUnderTheSameCommand() {
        TaskSpec spec = TestSpecs.shell(TASK, "exit 3").toBuilder().setMaxAttempts(2)
                .setRetryInitialDelay(TestSpecs.duration(Duration.ofMillis(50))).build();
        handler.runNow(runNow("c-1", spec).setTrigger(Trigger.TRIGGER_API).build());

        String secondAttempt = RunIds.commandRunId(TASK, "c-1", 2);
        RunFinished retried = await().atMost(WAIT).until(() -> finished(secondAttempt), Optional::isPresent).get();
        assertThat(retried.getStatus()).isEqualTo(RunStatus.RUN_STATUS_FAILED);
        assertThat(retried.getTrigger()).isEqualTo(Trigger.TRIGGER_RETRY);
        assertThat(retried.getCommandId()).isEqualTo("c-1");
        assertThat(Timestamps.toInstant(retried.getFireTime())).isEqualTo(REQUESTED);
        assertThat(finished(RunIds.commandRunId(TASK, "c-1", 1)).orElseThrow().getTrigger()).isEqualTo(Trigger.TRIGGER_API);
    }

    @Test
    void aRunNowWithoutASpecIsRejected() {
        handler.runNow(RunNow.newBuilder().setCommandId("c-1").build());

        assertThat(acks).singleElement().satisfies(ack -> {
            assertThat(ack.getOutcome()).isEqualTo(CommandOutcome.COMMAND_OUTCOME_REJECTED);
            assertThat(ack.getMessage()).contains("run_now.spec");
        });
    }

    private static RunNow.Builder runNow(String commandId, TaskSpec spec) {
        return RunNow.newBuilder().setCommandId(commandId).setSpec(spec).setRequestedAt(Timestamps.of(REQUESTED))
                .setTrigger(Trigger.TRIGGER_MANUAL);
    }

    private Optional<CommandAck> ack(String commandId) {
        return acks.stream().filter(ack -> ack.getCommandId().equals(commandId)).findFirst();
    }

    private List<AgentMessage> events() {
        return outbox.read(0, Integer.MAX_VALUE, Long.MAX_VALUE);
    }

    private Optional<RunStarted> started(String runId) {
        return events().stream().filter(AgentMessage::hasRunStarted).map(AgentMessage::getRunStarted)
                .filter(e -> e.getRunId().equals(runId)).findFirst();
    }

    private Optional<RunFinished> finished(String runId) {
        return events().stream().filter(AgentMessage::hasRunFinished).map(AgentMessage::getRunFinished)
                .filter(e -> e.getRunId().equals(runId)).findFirst();
    }

    private String output(String runId) {
        StringBuilder text = new StringBuilder();
        events().stream().filter(AgentMessage::hasOutputChunk).map(AgentMessage::getOutputChunk)
                .filter(c -> c.getRunId().equals(runId))
                .forEach(c -> text.append(c.getData().toString(StandardCharsets.UTF_8)));
        return text.toString();
    }
}
