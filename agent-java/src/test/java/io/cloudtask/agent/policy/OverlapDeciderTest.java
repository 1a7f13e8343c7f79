package io.cloudtask.agent.policy;

import static io.cloudtask.agent.TestSpecs.EVERY_SECOND;
import static io.cloudtask.agent.TestSpecs.cron;
import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.MutableClock;
import io.cloudtask.agent.policy.OverlapDecider.InFlight;
import io.cloudtask.proto.v1.TaskSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class OverlapDeciderTest {
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T10:00:00Z"));

    private static TaskPolicy policy(TaskSpec.OverlapPolicy overlap, int maxQueued, int maxParallel) {
        return TaskPolicy.of(cron("t", 1, EVERY_SECOND).setOverlapPolicy(overlap)
                .setMaxQueued(maxQueued).setMaxParallel(maxParallel).build());
    }

    private InFlight running(String runId) {
        return new InFlight(runId, clock.instant());
    }

    @Test
    void anIdleTaskStartsWhateverThePolicy() {
        for (TaskSpec.OverlapPolicy p : List.of(TaskSpec.OverlapPolicy.OVERLAP_POLICY_SKIP, TaskSpec.OverlapPolicy.OVERLAP_POLICY_QUEUE,
                TaskSpec.OverlapPolicy.OVERLAP_POLICY_PARALLEL, TaskSpec.OverlapPolicy.OVERLAP_POLICY_REPLACE)) {
            assertThat(OverlapDecider.decide(policy(p, 0, 0), List.of(), 0, clock.instant())).isInstanceOf(OverlapDecider.Start.class);
        }
    }

    @Test
    void skipIsTheDefaultAndNamesTheRunningRun() {
        TaskPolicy defaults = TaskPolicy.of(cron("t", 1, EVERY_SECOND).build());
        clock.advance(Duration.ofSeconds(1));

        OverlapDecider.Decision d = OverlapDecider.decide(defaults, List.of(running("run-1")), 0, clock.instant());

        assertThat(d).isEqualTo(new OverlapDecider.Skip("previous run run-1 still running"));
    }

    @Test
    void queueHoldsUpToMaxQueuedThenSkips() {
        TaskPolicy queue = policy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_QUEUE, 2, 0);

        assertThat(OverlapDecider.decide(queue, List.of(running("r")), 0, clock.instant())).isInstanceOf(OverlapDecider.Enqueue.class);
        assertThat(OverlapDecider.decide(queue, List.of(running("r")), 1, clock.instant())).isInstanceOf(OverlapDecider.Enqueue.class);
        assertThat(OverlapDecider.decide(queue, List.of(running("r")), 2, clock.instant()))
                .isInstanceOfSatisfying(OverlapDecider.Skip.class, s -> assertThat(s.reason()).contains("maxQueued 2"));
    }

    @Test
    void queueDefaultsToOneWaitingFire() {
        TaskPolicy queue = policy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_QUEUE, 0, 0);

        assertThat(queue.maxQueued()).isEqualTo(1);
        assertThat(OverlapDecider.decide(queue, List.of(running("r")), 1, clock.instant())).isInstanceOf(OverlapDecider.Skip.class);
    }

    @Test
    void parallelStartsUpToMaxParallelThenSkips() {
        TaskPolicy parallel = policy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_PARALLEL, 0, 3);

        assertThat(OverlapDecider.decide(parallel, List.of(running("a"), running("b")), 0, clock.instant()))
                .isInstanceOf(OverlapDecider.Start.class);
        assertThat(OverlapDecider.decide(parallel, List.of(running("a"), running("b"), running("c")), 0, clock.instant()))
                .isInstanceOfSatisfying(OverlapDecider.Skip.class, s -> assertThat(s.reason()).contains("maxParallel 3"));
    }

    @Test
    void replaceKillsEveryRunInFlightNamingTheNewFireTime() {
        TaskPolicy replace = policy(TaskSpec.OverlapPolicy.OVERLAP_POLICY_REPLACE, 0, 0);
        clock.advance(Duration.ofSeconds(5));

        OverlapDecider.Decision d = OverlapDecider.decide(replace, List.of(running("old")), 0, clock.instant());

        assertThat(d).isEqualTo(new OverlapDecider.Replace(List.of(running("old")),
                "replaced by the fire at 2030-01-01T10:00:05Z"));
    }
}
