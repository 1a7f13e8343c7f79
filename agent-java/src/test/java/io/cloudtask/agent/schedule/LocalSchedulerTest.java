package io.cloudtask.agent.schedule;

import static io.cloudtask.agent.TestSpecs.EVERY_SECOND;
import static io.cloudtask.agent.TestSpecs.cron;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.agent.MutableClock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LocalSchedulerTest {
    private static final Instant T0 = Instant.parse("2030-01-01T10:00:00.500Z");

    private final List<Fire> fires = new CopyOnWriteArrayList<>();
    private final List<Duration> lateness = new CopyOnWriteArrayList<>();
    private LocalScheduler scheduler;

    @AfterEach
    void close() {
        scheduler.close();
    }

    @Test
    void firesEachInstantTheClockPasses() {
        MutableClock clock = new MutableClock(T0);
        start(clock);
        scheduler.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()));
        scheduler.resumeFiring();

        clock.set(at("10:00:01"));
        await().atMost(Duration.ofSeconds(3)).until(() -> fireTimes().equals(List.of(at("10:00:01"))));
        clock.set(at("10:00:02.100"));
        await().atMost(Duration.ofSeconds(3)).until(() -> fireTimes().equals(List.of(at("10:00:01"), at("10:00:02"))));
    }

    @Test
    void aTimerThatWakesLateStopsFiringUntilThePauseIsCleared() {
        MutableClock clock = new MutableClock(T0);
        List<Duration> pauses = new CopyOnWriteArrayList<>();
        scheduler = new LocalScheduler(clock, fires::add);
        // A zero threshold makes any wake-up after the planned one count as a pause.
        scheduler.onPause(Duration.ZERO, pauses::add);
        scheduler.start();
        scheduler.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()));
        scheduler.resumeFiring();
        clock.set(at("10:00:01"));
        await().atMost(Duration.ofSeconds(3)).until(() -> !pauses.isEmpty());
        assertThat(scheduler.isFiring()).isFalse();

        int handedOff = fires.size();
        clock.set(at("10:00:03"));
        await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(2)).until(() -> fires.size() == handedOff);

        scheduler.onPause(Duration.ofHours(1), pauses::add);
        scheduler.resumeFiring();
        await().atMost(Duration.ofSeconds(3)).until(() -> fires.stream().anyMatch(f -> f.fireTime().equals(at("10:00:03"))));
    }

    @Test
    void startsStoppedAndNeverFiresUntilResumed() {
        MutableClock clock = new MutableClock(T0);
        start(clock);
        scheduler.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()));

        clock.set(at("10:00:03"));

        await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(2)).until(fires::isEmpty);
        assertThat(scheduler.isFiring()).isFalse();
    }

    @Test
    void stopsFiringWhenStoppedAndAppliesTheMisfirePolicyOnResume() {
        MutableClock clock = new MutableClock(T0);
        start(clock);
        scheduler.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()));
        scheduler.resumeFiring();
        clock.set(at("10:00:01"));
        await().atMost(Duration.ofSeconds(3)).until(() -> fires.size() == 1);

        scheduler.stopFiring("test");
        clock.set(at("10:00:05"));
        await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(2)).until(() -> fires.size() == 1);

        scheduler.resumeFiring();
        await().atMost(Duration.ofSeconds(3)).until(() -> fires.size() == 5);
        clock.set(at("10:00:06"));
        await().atMost(Duration.ofSeconds(3)).until(() -> fires.size() == 6);
        // RUN_ONCE (the default): 10:00:05 was on time at the resume, so it runs; 2-4 are MISSED.
        assertThat(fires).filteredOn(f -> f.kind() != Fire.Kind.MISSED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:01"), at("10:00:05"), at("10:00:06"));
        assertThat(fires).filteredOn(f -> f.kind() == Fire.Kind.MISSED).extracting(Fire::fireTime)
                .containsExactly(at("10:00:02"), at("10:00:03"), at("10:00:04"));
    }

    @Test
    void aRemovedTaskStopsFiringAtOnce() {
        MutableClock clock = new MutableClock(T0);
        start(clock);
        scheduler.update(Map.of("a", cron("a", 1, EVERY_SECOND).build(), "b", cron("b", 1, EVERY_SECOND).build()));
        scheduler.resumeFiring();

        scheduler.update(Map.of("b", cron("b", 1, EVERY_SECOND).build()));
        clock.set(at("10:00:01"));

        await().atMost(Duration.ofSeconds(3)).until(() -> fires.size() == 1);
        assertThat(fires).extracting(Fire::taskId).containsExactly("b");
        assertThat(scheduler.taskIds()).containsExactly("b");
    }

    @Test
    void firesOnTheWallClockSoonAfterEachInstant() {
        start(Clock.systemUTC());
        scheduler.update(Map.of("a", cron("a", 1, EVERY_SECOND).build()));
        scheduler.resumeFiring();

        await().atMost(Duration.ofSeconds(5)).until(() -> fires.size() >= 2);

        assertThat(fires.get(1).fireTime()).isEqualTo(fires.get(0).fireTime().plusSeconds(1));
        // Generous bound for a loaded 2-core CI machine; typical lateness is well under a millisecond.
        assertThat(lateness).allSatisfy(late -> assertThat(late).isLessThan(Duration.ofMillis(250)));
    }

    private void start(Clock clock) {
        scheduler = new LocalScheduler(clock, fire -> {
            lateness.add(Duration.between(fire.fireTime(), Instant.now()));
            fires.add(fire);
        });
        scheduler.start();
    }

    private List<Instant> fireTimes() {
        return fires.stream().map(Fire::fireTime).toList();
    }

    private static Instant at(String time) {
        return Instant.parse("2030-01-01T" + time + (time.contains(".") ? "" : ".000") + "Z");
    }
}
