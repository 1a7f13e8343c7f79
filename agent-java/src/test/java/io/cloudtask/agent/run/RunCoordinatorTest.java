package io.cloudtask.agent.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.agent.MutableClock;
import io.cloudtask.agent.TestPackages;
import io.cloudtask.agent.TestSpecs;
import io.cloudtask.agent.outbox.DiskRunEventOutbox;
import io.cloudtask.agent.schedule.Fire;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** Overlap and retry policies with real processes ({@code sleep}, {@code exit 1}). */
@EnabledOnOs({OS.LINUX, OS.MAC})
class RunCoordinatorTest {
    private static final String TASK = "policy-task";
    private static final Instant T1 = Instant.parse("2030-01-01T10:00:01Z");
    private static final Instant T2 = Instant.parse("2030-01-01T10:00:02Z");
    private static final Instant T3 = Instant.parse("2030-01-01T10:00:03Z");
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path tasksDir;

    @TempDir
    Path spoolDir;

    private DiskRunEventOutbox outbox;
    private ProcessRunner runner;
    private RunCoordinator coordinator;
    private final MutableClock clock = new MutableClock(Instant.now());
    /** The network between the agent and the control plane's claims, played by the test. */
    private final Claims claims = new Claims();

    private static final class Claims {
        final List<RunRequest> asked = new CopyOnWriteArrayList<>();
        final Map<String, CompletableFuture<ClaimAnswer>> answers = new ConcurrentHashMap<>();

        CompletableFuture<ClaimAnswer> claim(RunRequest request) {
            asked.add(request);
            return answers.computeIfAbsent(request.runId(), id -> new CompletableFuture<>());
        }

        void answer(RunRequest request, boolean granted) {
            answers.computeIfAbsent(request.runId(), id -> new CompletableFuture<>()).complete(ClaimAnswer.newBuilder()
                    .setGranted(granted).setHolderAgentId(granted ? "me" : "other").setReason(granted ? "" : "claimed by other")
                    .build());
        }
    }

    @BeforeEach
    void start() throws IOException {
        outbox = new DiskRunEventOutbox(spoolDir, DiskRunEventOutbox.Options.forMaxBytes(64L << 20), Clock.systemUTC());
        outbox.open();
        runner = new ProcessRunner(tasksDir, TestPackages.NONE, Platform.current(), outbox, Clock.systemUTC());
        // The jitter source at its maximum makes every retry delay equal its ceiling.
        coordinator = new RunCoordinator("agent-test", runner, () -> 1.0, claims::claim, clock);
    }

    @AfterEach
    void stop() {
        coordinator.close();
        runner.close();
        // Leave no sleeper behind for the next test.
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
        await().atMost(WAIT).until(() -> runner.activeRuns() == 0);
        outbox.close();
    }

    private static TaskSpec.Builder spec(String command) {
        return TestSpecs.cron(TASK, 1, TestSpecs.EVERY_SECOND)
                .setCommand(io.cloudtask.proto.v1.Command.newBuilder().setShell(command))
                .setKillGrace(TestSpecs.duration(Duration.ofSeconds(1)));
    }

    private void fire(TaskSpec spec, Instant at) {
        coordinator.fire(new Fire(TASK, spec, at));
    }

    @Test
    void skipReportsTheFireSkippedWhileALongRunRuns() {
        TaskSpec spec = spec("sleep 30").build();
        fire(spec, T1);
        await().atMost(WAIT).until(() -> started(T1, 1).isPresent());

        fire(spec, T2);

        RunFinished skipped = await().atMost(WAIT).until(() -> finished(T2, 1), Optional::isPresent).get();
        assertThat(skipped.getStatus()).isEqualTo(RunStatus.RUN_STATUS_SKIPPED);
        assertThat(skipped.getError()).isEqualTo("previous run " + RunIds.runId(TASK, T1, 1) + " still running");
        assertThat(skipped.hasStartedAt()).isFalse();
        assertThat(started(T2, 1)).isEmpty();
    }

    @Test
    void queueRunsTheQueuedFireAfterTheFirstEndsAndSkipsBeyondMaxQueued() {
        TaskSpec spec = spec("sleep 1").setOverlapPolicy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_QUEUE).build();
        fire(spec, T1);
        await().atMost(WAIT).until(() -> started(T1, 1).isPresent());
        fire(spec, T2);
        fire(spec, T3);

        await().atMost(WAIT).until(() -> finished(T2, 1).isPresent());
        RunFinished first = finished(T1, 1).orElseThrow();
        RunStarted second = started(T2, 1).orElseThrow();
        assertThat(Timestamps.toInstant(second.getStartedAt())).isAfterOrEqualTo(Timestamps.toInstant(first.getFinishedAt()));
        assertThat(finished(T2, 1).orElseThrow().getStatus()).isEqualTo(RunStatus.RUN_STATUS_SUCCEEDED);
        RunFinished third = finished(T3, 1).orElseThrow();
        assertThat(third.getStatus()).isEqualTo(RunStatus.RUN_STATUS_SKIPPED);
        assertThat(third.getError()).contains("maxQueued 1");
    }

    @Test
    void parallelCapsConcurrency() {
        TaskSpec spec = spec("sleep 30").setOverlapPolicy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_PARALLEL).build();
        fire(spec, T1);
        fire(spec, T2);
        fire(spec, T3);

        await().atMost(WAIT).until(() -> started(T1, 1).isPresent() && started(T2, 1).isPresent() && finished(T3, 1).isPresent());
        assertThat(finished(T3, 1).orElseThrow().getStatus()).isEqualTo(RunStatus.RUN_STATUS_SKIPPED);
        assertThat(finished(T3, 1).orElseThrow().getError()).contains("maxParallel 2");
        assertThat(runner.activeRuns()).isEqualTo(2);
    }

    @Test
    void replaceKillsTheOldTreeRecordsKilledAndStartsTheNewFire() {
        TaskSpec spec = spec("sleep 60 & sleep 61; wait").setOverlapPolicy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_REPLACE)
                .setMaxAttempts(3).build();
        fire(spec, T1);
        RunStarted old = await().atMost(WAIT).until(() -> started(T1, 1), Optional::isPresent).get();
        ProcessHandle shell = ProcessHandle.of(old.getPid()).orElseThrow();
        await().atMost(WAIT).until(() -> shell.descendants().count() >= 2);
        List<ProcessHandle> tree = shell.descendants().toList();

        fire(spec, T2);

        RunFinished killed = await().atMost(WAIT).until(() -> finished(T1, 1), Optional::isPresent).get();
        assertThat(killed.getStatus()).isEqualTo(RunStatus.RUN_STATUS_KILLED);
        assertThat(killed.getError()).isEqualTo("replaced by the fire at " + T2);
        assertThat(Platform.current().isRunning(shell)).isFalse();
        assertThat(tree).noneMatch(Platform.current()::isRunning);
        await().atMost(WAIT).until(() -> started(T2, 1).isPresent());
        // A KILLED run is never retried, whatever maxAttempts says.
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> started(T1, 2).isEmpty());
    }

    @Test
    void aFailingCommandIsRetriedWithRetryTriggerAndIncreasingDelays() {
        TaskSpec spec = spec("exit 1").setMaxAttempts(3)
                .setRetryInitialDelay(TestSpecs.duration(Duration.ofMillis(300)))
                .setRetryMaxDelay(TestSpecs.duration(Duration.ofSeconds(5))).build();
        fire(spec, T1);

        await().atMost(WAIT).until(() -> finished(T1, 3).isPresent());
        for (int attempt = 1; attempt <= 3; attempt++) {
            RunFinished f = finished(T1, attempt).orElseThrow();
            assertThat(f.getStatus()).isEqualTo(RunStatus.RUN_STATUS_FAILED);
            assertThat(f.getAttempt()).isEqualTo(attempt);
            assertThat(Timestamps.toInstant(f.getFireTime())).isEqualTo(T1);
            assertThat(f.getTrigger()).isEqualTo(attempt == 1 ? Trigger.TRIGGER_SCHEDULE : Trigger.TRIGGER_RETRY);
        }
        Duration firstDelay = gap(finished(T1, 1).orElseThrow(), started(T1, 2).orElseThrow());
        Duration secondDelay = gap(finished(T1, 2).orElseThrow(), started(T1, 3).orElseThrow());
        assertThat(firstDelay).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(secondDelay).isGreaterThanOrEqualTo(Duration.ofMillis(600)).isGreaterThan(firstDelay);
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> started(T1, 4).isEmpty());
    }

    @Test
    void aTimedOutRunIsRetriedWithTheTasksKillGrace() {
        TaskSpec spec = spec("sleep 30").setTimeout(TestSpecs.duration(Duration.ofMillis(500))).setMaxAttempts(2)
                .setRetryInitialDelay(TestSpecs.duration(Duration.ofMillis(100))).build();
        fire(spec, T1);

        await().atMost(WAIT).until(() -> finished(T1, 2).isPresent());
        assertThat(finished(T1, 1).orElseThrow().getStatus()).isEqualTo(RunStatus.RUN_STATUS_TIMED_OUT);
        assertThat(finished(T1, 2).orElseThrow().getStatus()).isEqualTo(RunStatus.RUN_STATUS_TIMED_OUT);
        assertThat(finished(T1, 2).orElseThrow().getTrigger()).isEqualTo(Trigger.TRIGGER_RETRY);
    }

    @Test
    void aMissedFireIsReportedWithoutRunning() {
        TaskSpec spec = spec("true").build();
        coordinator.fire(new Fire(TASK, spec, T1, Fire.Kind.MISSED));

        RunFinished missed = await().atMost(WAIT).until(() -> finished(T1, 1), Optional::isPresent).get();
        assertThat(missed.getStatus()).isEqualTo(RunStatus.RUN_STATUS_MISSED);
        assertThat(missed.getError()).contains("MISFIRE_POLICY_RUN_ONCE");
        assertThat(started(T1, 1)).isEmpty();
    }

    @Test
    void aStrictFireStartsOnlyOnceItsClaimIsGrantedAndItsRetriesDoNotClaimAgain() {
        TaskSpec spec = spec("exit 1").setStrict(true).setMaxAttempts(2)
                .setRetryInitialDelay(TestSpecs.duration(Duration.ofMillis(50))).build();
        fire(spec, T1);
        await().atMost(WAIT).until(() -> claims.asked.size() == 1);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> events().isEmpty());

        claims.answer(claims.asked.get(0), true);

        await().atMost(WAIT).until(() -> finished(T1, 2).isPresent());
        assertThat(started(T1, 1)).isPresent();
        assertThat(claims.asked).hasSize(1);
    }

    @Test
    void aStrictFireDeniedItsClaimRecordsNothing() {
        TaskSpec spec = spec("true").setStrict(true).build();
        fire(spec, T1);
        await().atMost(WAIT).until(() -> claims.asked.size() == 1);

        claims.answer(claims.asked.get(0), false);

        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> events().isEmpty());
    }

    @Test
    void aClaimGrantedAfterTheDeadlineIsReportedMissedAndAMissedStrictFireOnlyByItsHolder() {
        TaskSpec spec = spec("true").setStrict(true).build();
        fire(spec, T1);
        await().atMost(WAIT).until(() -> claims.asked.size() == 1);
        clock.advance(RunCoordinator.CLAIM_DEADLINE.plusSeconds(1));
        claims.answer(claims.asked.get(0), true);

        RunFinished late = await().atMost(WAIT).until(() -> finished(T1, 1), Optional::isPresent).get();
        assertThat(late.getStatus()).isEqualTo(RunStatus.RUN_STATUS_MISSED);
        assertThat(late.getError()).contains("later than the 10 s deadline");
        assertThat(started(T1, 1)).isEmpty();

        coordinator.fire(new Fire(TASK, spec, T2, Fire.Kind.MISSED));
        coordinator.fire(new Fire(TASK, spec, T3, Fire.Kind.MISSED));
        await().atMost(WAIT).until(() -> claims.asked.size() == 3);
        claims.answer(claims.asked.get(1), true);
        claims.answer(claims.asked.get(2), false);
        await().atMost(WAIT).until(() -> finished(T2, 1).isPresent());
        assertThat(finished(T2, 1).orElseThrow().getStatus()).isEqualTo(RunStatus.RUN_STATUS_MISSED);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> finished(T3, 1).isEmpty());
    }

    private static Duration gap(RunFinished before, RunStarted after) {
        return Duration.between(Timestamps.toInstant(before.getFinishedAt()), Timestamps.toInstant(after.getStartedAt()));
    }

    private List<AgentMessage> events() {
        return outbox.read(0, Integer.MAX_VALUE, Long.MAX_VALUE);
    }

    private Optional<RunStarted> started(Instant fireTime, int attempt) {
        String runId = RunIds.runId(TASK, fireTime, attempt);
        return events().stream().filter(AgentMessage::hasRunStarted).map(AgentMessage::getRunStarted)
                .filter(s -> s.getRunId().equals(runId)).findFirst();
    }

    private Optional<RunFinished> finished(Instant fireTime, int attempt) {
        String runId = RunIds.runId(TASK, fireTime, attempt);
        return events().stream().filter(AgentMessage::hasRunFinished).map(AgentMessage::getRunFinished)
                .filter(f -> f.getRunId().equals(runId)).findFirst();
    }
}
