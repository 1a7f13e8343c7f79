package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunStatus;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Drives every declared run transition through the real ingestion path and database, and fails
 * if a declared transition is never exercised (so the table cannot grow rows nobody tested).
 */
@MicronautTest(environments = "test", transactional = false)
class RunLifecycleTest extends ControlPlaneTest {
    private static final Map<RunStatus, RunEvent> FINISHES = Map.of(
            RunStatus.RUN_STATUS_SUCCEEDED, RunEvent.SUCCEED, RunStatus.RUN_STATUS_FAILED, RunEvent.FAIL,
            RunStatus.RUN_STATUS_TIMED_OUT, RunEvent.TIME_OUT, RunStatus.RUN_STATUS_KILLED, RunEvent.KILL,
            RunStatus.RUN_STATUS_SKIPPED, RunEvent.SKIP, RunStatus.RUN_STATUS_MISSED, RunEvent.MISS);

    @Inject
    RunIngestion ingestion;

    @Inject
    RunService runs;

    @Inject
    LostRunDetector lostRuns;

    private final Set<RunStateMachine.Transition> exercised = new HashSet<>();
    private final AtomicLong fires = new AtomicLong();

    @Override
    protected Map<String, String> extraProperties() {
        return Map.of("cloudtask.runs.lost-grace", "0s", "cloudtask.runs.lost-check-interval", "1h");
    }

    private RunEvents newFire() {
        return new RunEvents(UUID.randomUUID().toString(),
                Instant.parse("2026-06-01T00:00:00Z").plusSeconds(fires.incrementAndGet()));
    }

    private RunState state(RunEvents fire) {
        try {
            return RunState.valueOf(runs.status(UUID.fromString(fire.runId())));
        } catch (io.cloudtask.controlplane.api.ApiException notFound) {
            return RunState.NONE;
        }
    }

    /** Applies one event and records the transition it produced. */
    private RunState apply(RunEvents fire, RunEvent event, Runnable action) {
        RunState before = state(fire);
        action.run();
        RunState after = state(fire);
        if (before != after) {
            exercised.add(new RunStateMachine.Transition(before, event, after));
        }
        return after;
    }

    private void ingest(AgentMessage message) {
        ingestion.ingest("agent-lifecycle", "default", List.of(message));
    }

    @Test
    void startedRunsEndInEveryReportedStatus() {
        for (Map.Entry<RunStatus, RunEvent> finish : FINISHES.entrySet()) {
            if (finish.getValue() == RunEvent.SKIP || finish.getValue() == RunEvent.MISS) {
                continue;
            }
            RunEvents fire = newFire();
            assertThat(apply(fire, RunEvent.START, () -> ingest(fire.started()))).isEqualTo(RunState.RUNNING);
            RunState end = apply(fire, finish.getValue(), () -> ingest(fire.finished(finish.getKey())));
            assertThat(end).isEqualTo(RunStateMachine.next(RunState.RUNNING, finish.getValue()));
        }
    }

    @Test
    void aFinishWithoutItsStartIsStillRecorded() {
        for (Map.Entry<RunStatus, RunEvent> finish : FINISHES.entrySet()) {
            RunEvents fire = newFire();
            RunState end = apply(fire, finish.getValue(), () -> ingest(fire.finished(finish.getKey())));
            assertThat(end).isEqualTo(RunStateMachine.next(RunState.NONE, finish.getValue()));
        }
    }

    @Test
    void aRunWhoseAgentVanishedIsLostUntilTheAgentReportsItsEnd() {
        for (Map.Entry<RunStatus, RunEvent> finish : FINISHES.entrySet()) {
            if (finish.getValue() == RunEvent.SKIP || finish.getValue() == RunEvent.MISS) {
                continue;
            }
            RunEvents fire = newFire();
            apply(fire, RunEvent.START, () -> ingest(fire.started()));
            assertThat(apply(fire, RunEvent.LOSE, () -> lostRuns.markLost("default", List.of("some-other-agent"))))
                    .isEqualTo(RunState.LOST);
            assertThat(runs.get(UUID.fromString(fire.runId())).error()).contains("session ended");
            assertThat(apply(fire, finish.getValue(), () -> ingest(fire.finished(finish.getKey()))))
                    .isEqualTo(RunStateMachine.next(RunState.LOST, finish.getValue()));
        }
    }

    @Test
    void aLiveAgentsRunIsNotLost() {
        RunEvents fire = newFire();
        ingest(fire.started());
        lostRuns.markLost("default", List.of("agent-lifecycle"));
        assertThat(state(fire)).isEqualTo(RunState.RUNNING);
    }

    @Test
    void illegalTransitionsChangeNothing() {
        RunEvents fire = newFire();
        ingest(fire.started());
        ingest(fire.finished(RunStatus.RUN_STATUS_SUCCEEDED));
        ingest(fire.finished(RunStatus.RUN_STATUS_FAILED));
        ingest(fire.started());
        assertThat(state(fire)).isEqualTo(RunState.SUCCEEDED);
        assertThatThrownBy(() -> RunStateMachine.next(RunState.SUCCEEDED, RunEvent.FAIL))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("FAIL in state SUCCEEDED");
        assertThatThrownBy(() -> RunStateMachine.next(RunState.RUNNING, RunEvent.START))
                .isInstanceOf(IllegalStateException.class);
    }

    @AfterAll
    void everyDeclaredTransitionWasExercised() {
        assertThat(exercised).containsExactlyInAnyOrderElementsOf(RunStateMachine.transitions());
    }
}
