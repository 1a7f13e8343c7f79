package io.cloudtask.agent.schedule;

import static io.cloudtask.agent.TestSpecs.EVERY_SECOND;
import static io.cloudtask.agent.TestSpecs.cron;
import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.MutableClock;
import io.cloudtask.proto.v1.TaskSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FirePlanTest {
    private static final Instant T0 = Instant.parse("2030-01-01T10:00:00.200Z");

    private final MutableClock clock = new MutableClock(T0);
    private final FirePlan plan = new FirePlan();

    @Test
    void firesEverySecondAtTheScheduledInstants() {
        TaskSpec spec = cron("a", 1, EVERY_SECOND).build();
        plan.update(Map.of("a", spec), clock.instant());

        assertThat(plan.nextDeadline()).contains(at("10:00:01"));
        clock.set(at("10:00:00.999"));
        assertThat(plan.due(clock.instant())).isEmpty();

        clock.set(at("10:00:01.001"));
        assertThat(plan.due(clock.instant())).containsExactly(new Fire("a", spec, at("10:00:01")));
        assertThat(plan.nextDeadline()).contains(at("10:00:02"));

        clock.set(at("10:00:02"));
        assertThat(plan.due(clock.instant())).extracting(Fire::fireTime).containsExactly(at("10:00:02"));
        assertThat(plan.due(clock.instant())).as("an instant is handed out once").isEmpty();
    }

    @Test
    void editedPausedAndRemovedTasksNeverFireFromTheirEarlierPendingInstants() {
        TaskSpec kept = cron("kept", 1, EVERY_SECOND).build();
        plan.update(Map.of("kept", kept, "edited", cron("edited", 1, EVERY_SECOND).build(),
                "paused", cron("paused", 1, EVERY_SECOND).build(), "removed", cron("removed", 1, EVERY_SECOND).build()),
                clock.instant());

        TaskSpec edited = cron("edited", 2, "0/2 * * * * ?").build();
        plan.update(Map.of("kept", kept, "edited", edited,
                "paused", cron("paused", 2, EVERY_SECOND).setPaused(true).build()), clock.instant());

        List<Fire> fires = new ArrayList<>();
        for (int second = 1; second <= 4; second++) {
            clock.set(at("10:00:0" + second + ".001"));
            fires.addAll(plan.due(clock.instant()));
        }
        // Fires of one instant come in no particular order.
        assertThat(fires).extracting(fire -> fire.taskId() + "@" + fire.fireTime()).containsExactlyInAnyOrder(
                "kept@" + at("10:00:01"), "edited@" + at("10:00:02"), "kept@" + at("10:00:02"),
                "kept@" + at("10:00:03"), "edited@" + at("10:00:04"), "kept@" + at("10:00:04"));
        assertThat(plan.nextDeadline()).contains(at("10:00:05"));
    }

    @Test
    void manyTasksFireEachOfTheirInstantsOnceWhateverTheWakeUps() {
        Map<String, TaskSpec> specs = new java.util.HashMap<>();
        for (int i = 0; i < 500; i++) {
            specs.put("t" + i, cron("t" + i, 1, EVERY_SECOND).build());
        }
        plan.update(specs, clock.instant());
        int fired = 0;
        for (int step = 0; step < 3_000; step++) {
            clock.advance(Duration.ofMillis(1));
            List<Fire> due = plan.due(clock.instant());
            assertThat(due).allSatisfy(fire -> assertThat(fire.fireTime()).isBeforeOrEqualTo(clock.instant()));
            fired += due.size();
        }
        // 10:00:00.200 + 3 s covers the instants 10:00:01, :02 and :03 of every task.
        assertThat(fired).isEqualTo(3 * 500);
    }

    @Test
    void aPausedTaskDoesNotFire() {
        plan.update(Map.of("a", cron("a", 1, EVERY_SECOND).setPaused(true).build()), clock.instant());

        clock.advance(Duration.ofSeconds(10));
        assertThat(plan.due(clock.instant())).isEmpty();
        assertThat(plan.nextDeadline()).isEmpty();
        assertThat(plan.taskIds()).containsExactly("a");
    }

    @Test
    void anUpdatedSpecDoesNotFireTheLastInstantAgain() {
        plan.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()), clock.instant());
        clock.set(at("10:00:01"));
        assertThat(plan.due(clock.instant())).extracting(Fire::fireTime).containsExactly(at("10:00:01"));

        // The new version arrives while the clock has stepped back behind the fire just made.
        clock.set(at("10:00:00.500"));
        plan.update(Map.of("a", cron("a", 2, EVERY_SECOND).setName("renamed").build()), clock.instant());

        assertThat(plan.nextFire("a")).contains(at("10:00:02"));
        clock.set(at("10:00:01.500"));
        assertThat(plan.due(clock.instant())).isEmpty();
    }

    @Test
    void anUnchangedSpecKeepsItsPendingFire() {
        TaskSpec spec = cron("a", 1, EVERY_SECOND).build();
        plan.update(Map.of("a", spec), clock.instant());
        clock.set(at("10:00:01.300"));

        plan.update(Map.of("a", spec), clock.instant());

        assertThat(plan.due(clock.instant())).extracting(Fire::fireTime).containsExactly(at("10:00:01"));
    }

    @Test
    void aRemovedTaskStopsFiring() {
        plan.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()), clock.instant());

        plan.update(Map.of(), clock.instant());
        clock.advance(Duration.ofSeconds(5));

        assertThat(plan.due(clock.instant())).isEmpty();
        assertThat(plan.nextDeadline()).isEmpty();
        assertThat(plan.taskIds()).isEmpty();
    }

    @Test
    void twoTasksWithDifferentSchedulesFireOnTheirOwnInstants() {
        plan.update(Map.of(
                "every-second", cron("every-second", 1, EVERY_SECOND).build(),
                "every-five", cron("every-five", 1, "*/5 * * * * ?").build()), clock.instant());

        List<Fire> fires = new ArrayList<>();
        Instant end = at("10:00:10");
        while (plan.nextDeadline().isPresent() && !plan.nextDeadline().get().isAfter(end)) {
            clock.set(plan.nextDeadline().get());
            fires.addAll(plan.due(clock.instant()));
        }

        assertThat(fires).filteredOn(f -> f.taskId().equals("every-second")).hasSize(10);
        assertThat(fires).filteredOn(f -> f.taskId().equals("every-five")).extracting(Fire::fireTime)
                .containsExactly(at("10:00:05"), at("10:00:10"));
    }

    @Test
    void aLateWakeUpFiresTheOnTimeInstantAndReportsTheEarlierOnesMissed() {
        plan.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()), clock.instant());

        clock.set(at("10:00:04.500"));

        List<Fire> fires = plan.due(clock.instant());
        assertThat(fires).filteredOn(f -> f.kind() == Fire.Kind.MISSED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:01"), at("10:00:02"), at("10:00:03"));
        assertThat(fires).filteredOn(f -> f.kind() == Fire.Kind.SCHEDULED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:04"));
        assertThat(plan.nextDeadline()).contains(at("10:00:05"));
    }

    @Test
    void rebaseAppliesTheMisfirePolicyToTheInstantsMissedWhileStopped() {
        plan.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()), clock.instant());

        clock.set(at("10:00:07.250"));
        plan.rebase(clock.instant());

        List<Fire> fires = plan.due(clock.instant());
        assertThat(fires).filteredOn(f -> f.kind() == Fire.Kind.MISSED).hasSize(6);
        assertThat(fires).filteredOn(f -> f.kind() != Fire.Kind.MISSED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:07"));
        assertThat(plan.nextDeadline()).contains(at("10:00:08"));
    }

    @Test
    void aFirstAssignmentReplaysNothingFromBeforeItWasSeen() {
        clock.set(at("10:00:30.100"));
        plan.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()), clock.instant());
        plan.rebase(clock.instant());

        assertThat(plan.due(clock.instant())).isEmpty();
        assertThat(plan.nextDeadline()).contains(at("10:00:31"));
    }

    @Test
    void aMarkerFromAnEarlierLifeCatchesUpButNeverBeforeTheSpecVersionWasCreated() {
        FireMarkers markers = FireMarkers.inMemory();
        markers.save("a", at("10:00:00"));
        FirePlan restarted = new FirePlan(markers);
        restarted.loadMarkers();
        clock.set(at("10:00:20.100"));
        TaskSpec spec = cron("a", 2, EVERY_SECOND)
                .setVersionCreatedAt(io.cloudtask.schedule.Timestamps.of(at("10:00:15")))
                .setMisfirePolicy(TaskSpec.MisfirePolicy.MISFIRE_POLICY_SKIP).build();

        restarted.update(Map.of("a", spec), clock.instant());
        restarted.rebase(clock.instant());

        List<Fire> fires = restarted.due(clock.instant());
        assertThat(fires).filteredOn(f -> f.kind() == Fire.Kind.MISSED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:16"), at("10:00:17"), at("10:00:18"), at("10:00:19"));
        assertThat(fires).filteredOn(f -> f.kind() == Fire.Kind.SCHEDULED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:20"));
        assertThat(markers.loadAll()).containsEntry("a", at("10:00:20"));
    }

    @Test
    void aTaskThatLeavesLosesItsMarkerSoItsReturnReplaysNothing() {
        FireMarkers markers = FireMarkers.inMemory();
        FirePlan withMarkers = new FirePlan(markers);
        withMarkers.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()), clock.instant());
        assertThat(markers.loadAll()).containsKey("a");

        withMarkers.update(Map.of(), clock.instant());

        assertThat(markers.loadAll()).doesNotContainKey("a");
    }

    @Test
    void anInvalidScheduleIsReportedAndNeverFires() {
        List<FirePlan.Rejected> rejected = plan.update(
                Map.of("bad", cron("bad", 3, "61 * * * * ?").build()), clock.instant());

        assertThat(rejected).singleElement().satisfies(r -> {
            assertThat(r.taskId()).isEqualTo("bad");
            assertThat(r.specVersion()).isEqualTo(3);
            assertThat(r.field()).isEqualTo("schedules[0].expression");
        });
        assertThat(plan.nextDeadline()).isEmpty();
        assertThat(plan.update(Map.of("bad", cron("bad", 3, "61 * * * * ?").build()), clock.instant()))
                .as("an unchanged spec is not reported again").isEmpty();
    }

    @Test
    void aTaskFirstHeldReportsItsHandOverGapAndRunsNoneOfIt() {
        // Assigned here 100 ms ago (the reconciler raised version_created_at to that), and the
        // gap looked at from 10 s before.
        Instant assigned = T0.minusMillis(100);
        TaskSpec strict = cron("s", 1, EVERY_SECOND).setStrict(true).setVersionCreatedAt(
                io.cloudtask.schedule.Timestamps.of(assigned)).build();
        TaskSpec standard = cron("n", 1, EVERY_SECOND).setVersionCreatedAt(io.cloudtask.schedule.Timestamps.of(assigned))
                .build();
        Instant gapFrom = T0.minusSeconds(10);
        plan.update(Map.of("s", strict, "n", standard, "new", cron("new", 1, EVERY_SECOND).build()),
                Map.of("s", gapFrom, "n", gapFrom), clock.instant());

        List<Fire> due = plan.due(clock.instant());

        // The instants of (gapFrom, now]: 09:59:51 to 10:00:00. None runs: the previous agent may
        // have run them. A strict task reports them MISSED (each after its claim); a standard
        // task provisionally.
        assertThat(due).filteredOn(fire -> fire.taskId().equals("n")).hasSize(10)
                .allSatisfy(fire -> assertThat(fire.kind()).isEqualTo(Fire.Kind.HAND_OVER));
        assertThat(due).filteredOn(fire -> fire.taskId().equals("s")).hasSize(10)
                .allSatisfy(fire -> assertThat(fire.kind()).isEqualTo(Fire.Kind.HAND_OVER));
        assertThat(due).extracting(Fire::fireTime).allSatisfy(t -> assertThat(t).isBetween(at("09:59:51"), at("10:00:00")));
        assertThat(due).noneMatch(fire -> fire.taskId().equals("new"));
        assertThat(plan.nextFire("n")).contains(at("10:00:01"));
        assertThat(plan.nextFire("s")).contains(at("10:00:01"));
        assertThat(plan.due(clock.instant())).as("reported once").isEmpty();
    }

    @Test
    void theHandOverGapReachesNoFurtherBackThanTheLookBack() {
        plan.update(Map.of("n", cron("n", 1, EVERY_SECOND).setVersionCreatedAt(
                        io.cloudtask.schedule.Timestamps.of(T0.minusMillis(100))).build()),
                Map.of("n", T0.minus(Duration.ofHours(2))), clock.instant());

        List<Fire> due = plan.due(clock.instant());

        assertThat(due).isNotEmpty().allMatch(fire -> !fire.fireTime().isBefore(T0.minus(FirePlan.HAND_OVER_LOOKBACK)));
    }

    @Test
    void firesBetweenTheAssignmentAndHoldingTheSpecAreThisAgentsAndFollowTheMisfirePolicy() {
        TaskSpec spec = cron("n", 1, EVERY_SECOND).setVersionCreatedAt(
                io.cloudtask.schedule.Timestamps.of(T0.minusMillis(2500))).build();
        plan.update(Map.of("n", spec), Map.of("n", T0.minusSeconds(30)), clock.instant());

        List<Fire> due = plan.due(clock.instant());

        assertThat(due).filteredOn(fire -> fire.kind() == Fire.Kind.HAND_OVER).hasSize(27);
        // 09:59:58, 09:59:59 and 10:00:00 came after the assignment: RUN_ONCE runs the latest.
        assertThat(due).filteredOn(fire -> fire.kind() != Fire.Kind.HAND_OVER && fire.kind() != Fire.Kind.MISSED)
                .extracting(Fire::fireTime).containsExactly(at("10:00:00"));
        assertThat(due).filteredOn(fire -> fire.kind() == Fire.Kind.MISSED).extracting(Fire::fireTime)
                .containsExactly(at("09:59:58"), at("09:59:59"));
    }

    @Test
    void aTaskAlreadyHeldReportsNoHandOverGap() {
        TaskSpec spec = cron("n", 1, EVERY_SECOND).build();
        plan.update(Map.of("n", spec), clock.instant());
        clock.set(at("10:00:05.500"));
        plan.due(clock.instant());

        plan.update(Map.of("n", spec.toBuilder().setVersion(2).build()), Map.of("n", T0.minusSeconds(30)), clock.instant());

        assertThat(plan.due(clock.instant())).noneMatch(fire -> fire.kind() == Fire.Kind.HAND_OVER);
    }

    private static Instant at(String time) {
        return Instant.parse("2030-01-01T" + time + (time.contains(".") ? "" : ".000") + "Z");
    }
}
