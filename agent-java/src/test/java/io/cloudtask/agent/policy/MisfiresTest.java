package io.cloudtask.agent.policy;

import static io.cloudtask.agent.TestSpecs.EVERY_SECOND;
import static io.cloudtask.agent.TestSpecs.cron;
import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.MutableClock;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.schedule.TaskSchedule;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class MisfiresTest {
    private static final Instant T0 = Instant.parse("2030-01-01T10:00:00Z");

    private final MutableClock clock = new MutableClock(T0);

    private static TaskSpec.Builder everySecond() {
        return cron("t", 1, EVERY_SECOND);
    }

    private static Misfires.Plan plan(TaskSpec spec, Instant first, Instant now) throws Exception {
        return Misfires.plan(TaskSchedule.of(spec), first, now, TaskPolicy.of(spec));
    }

    private static Instant at(int second) {
        return T0.plusSeconds(second);
    }

    @Test
    void anOnTimeFireIsNotAMisfire() throws Exception {
        clock.set(at(1).plusMillis(3));

        Misfires.Plan plan = plan(everySecond().build(), at(1), clock.instant());

        assertThat(plan.run()).containsExactly(at(1));
        assertThat(plan.lastRunOnTime()).isTrue();
        assertThat(plan.missed()).isEmpty();
    }

    @Test
    void skipReportsEveryMissedFire() throws Exception {
        clock.set(at(30));

        Misfires.Plan plan = plan(everySecond().setMisfirePolicy(TaskSpec.MisfirePolicy.MISFIRE_POLICY_SKIP).build(), at(1), clock.instant());

        // 10:00:30 is on time and runs as a normal fire; 1..29 are MISSED.
        assertThat(plan.missed()).hasSize(29).first().isEqualTo(at(1));
        assertThat(plan.run()).containsExactly(at(30));
        assertThat(plan.last()).isEqualTo(at(30));
    }

    @Test
    void runOnceRunsTheLatestMissedFireWhenNoneIsOnTime() throws Exception {
        // One fire a minute; the agent comes back 30 s after the last one.
        TaskSpec spec = cron("t", 1, "0 * * * * ?").build();
        clock.set(T0.plus(Duration.ofMinutes(5)).plusSeconds(30));

        Misfires.Plan plan = plan(spec, T0.plus(Duration.ofMinutes(1)), clock.instant());

        assertThat(plan.run()).containsExactly(T0.plus(Duration.ofMinutes(5)));
        assertThat(plan.lastRunOnTime()).isFalse();
        assertThat(plan.missed()).containsExactly(T0.plus(Duration.ofMinutes(1)), T0.plus(Duration.ofMinutes(2)),
                T0.plus(Duration.ofMinutes(3)), T0.plus(Duration.ofMinutes(4)));
    }

    @Test
    void runOnceDoesNotAddACatchUpRunWhenTheLatestFireIsOnTime() throws Exception {
        clock.set(at(10).plusMillis(200));

        Misfires.Plan plan = plan(everySecond().build(), at(1), clock.instant());

        assertThat(plan.run()).containsExactly(at(10));
        assertThat(plan.missed()).hasSize(9);
    }

    @Test
    void runAllRunsTheLatestMaxCatchUpOldestFirstAndReportsTheRestMissed() throws Exception {
        TaskSpec spec = everySecond().setMisfirePolicy(TaskSpec.MisfirePolicy.MISFIRE_POLICY_RUN_ALL).setMaxCatchUp(3).build();
        clock.set(at(20));

        Misfires.Plan plan = plan(spec, at(1), clock.instant());

        // 10:00:20 is on time and runs anyway; of the 19 missed, the latest 3 are caught up.
        assertThat(plan.run()).containsExactly(at(17), at(18), at(19), at(20));
        assertThat(plan.missed()).hasSize(16).last().isEqualTo(at(16));
    }

    @Test
    void runAllDefaultsToTenCatchUpRuns() throws Exception {
        TaskSpec spec = cron("t", 1, "0 * * * * ?").setMisfirePolicy(TaskSpec.MisfirePolicy.MISFIRE_POLICY_RUN_ALL).build();
        clock.set(T0.plus(Duration.ofMinutes(30)).plusSeconds(30));

        Misfires.Plan plan = plan(spec, T0.plus(Duration.ofMinutes(1)), clock.instant());

        assertThat(plan.run()).hasSize(10).last().isEqualTo(T0.plus(Duration.ofMinutes(30)));
        assertThat(plan.missed()).hasSize(20);
    }

    @Test
    void aDayOfMissedSecondsIsBoundedAndStillRunsTheLatest() throws Exception {
        TaskSpec spec = everySecond().build();
        clock.set(T0.plus(Duration.ofDays(1)).plusMillis(500));

        Misfires.Plan plan = plan(spec, at(1), clock.instant());

        assertThat(plan.run()).containsExactly(T0.plus(Duration.ofDays(1)));
        assertThat(plan.missed()).hasSize(Misfires.MAX_REPORTED);
        assertThat(plan.missed().get(plan.missed().size() - 1)).isEqualTo(T0.plus(Duration.ofDays(1)).minusSeconds(1));
        assertThat(plan.unreported()).isPositive();
        assertThat(plan.last()).isEqualTo(T0.plus(Duration.ofDays(1)));
    }

    @Test
    void reportedMissedFiresAreTheLatestOnes() throws Exception {
        TaskSpec spec = everySecond().setMisfirePolicy(TaskSpec.MisfirePolicy.MISFIRE_POLICY_SKIP).build();
        clock.set(at(300));

        Misfires.Plan plan = plan(spec, at(1), clock.instant());

        assertThat(plan.missed()).hasSize(Misfires.MAX_REPORTED);
        assertThat(plan.missed().get(0)).isEqualTo(at(200));
        assertThat(plan.unreported()).isEqualTo(199);
        assertThat(List.copyOf(plan.run())).containsExactly(at(300));
    }
}
