package io.cloudtask.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.proto.v1.CronSchedule;
import io.cloudtask.proto.v1.CronSyntax;
import io.cloudtask.proto.v1.Schedule;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class TaskScheduleTest {
    private static Schedule cron(String expression) {
        return cron(expression, CronSyntax.CRON_SYNTAX_QUARTZ);
    }

    private static Schedule cron(String expression, CronSyntax syntax) {
        return Schedule.newBuilder().setEnabled(true)
                .setCron(CronSchedule.newBuilder().setExpression(expression).setSyntax(syntax)).build();
    }

    @Test
    void firesEverySecondStrictlyAfterTheGivenInstant() throws Exception {
        TaskSchedule schedule = TaskSchedule.of(List.of(cron("* * * * * ?")), "UTC");
        Instant start = Instant.parse("2026-03-01T10:00:00Z");
        assertThat(schedule.next(start, 3)).containsExactly(
                Instant.parse("2026-03-01T10:00:01Z"),
                Instant.parse("2026-03-01T10:00:02Z"),
                Instant.parse("2026-03-01T10:00:03Z"));
        assertThat(schedule.nextAfter(Instant.parse("2026-03-01T10:00:00.400Z")))
                .contains(Instant.parse("2026-03-01T10:00:01Z"));
    }

    @Test
    void evaluatesQuartzInTheTaskTimeZoneAcrossTheSpringDstSwitch() throws Exception {
        TaskSchedule schedule = TaskSchedule.of(List.of(cron("30 0/15 9-17 ? * MON-FRI")), "Europe/Berlin");
        // Friday 2026-03-27 17:50 CET; Berlin moves to CEST on Sunday 2026-03-29.
        Instant fridayEvening = Instant.parse("2026-03-27T16:50:00Z");
        assertThat(schedule.nextAfter(fridayEvening)).contains(Instant.parse("2026-03-30T07:00:30Z"));
    }

    @Test
    void acceptsUnixFiveFieldSyntax() throws Exception {
        TaskSchedule schedule =
                TaskSchedule.of(List.of(cron("*/5 * * * *", CronSyntax.CRON_SYNTAX_UNIX)), "UTC");
        assertThat(schedule.nextAfter(Instant.parse("2026-03-01T10:01:00Z")))
                .contains(Instant.parse("2026-03-01T10:05:00Z"));
    }

    @Test
    void mergesSchedulesSoASharedInstantFiresOnce() throws Exception {
        TaskSchedule schedule = TaskSchedule.of(List.of(cron("0/2 * * * * ?"), cron("0/3 * * * * ?")), "UTC");
        Instant start = Instant.parse("2026-03-01T10:00:00Z");
        assertThat(schedule.next(start, 5)).containsExactly(
                start.plusSeconds(2), start.plusSeconds(3), start.plusSeconds(4), start.plusSeconds(6),
                start.plusSeconds(8));
    }

    @Test
    void honoursTheActiveRangeAndSkipsDisabledSchedules() throws Exception {
        Schedule bounded = cron("0 * * * * ?").toBuilder()
                .setActiveFrom(Timestamps.of(Instant.parse("2026-03-01T10:05:00Z")))
                .setActiveUntil(Timestamps.of(Instant.parse("2026-03-01T10:07:00Z")))
                .build();
        Schedule disabled = cron("* * * * * ?").toBuilder().setEnabled(false).build();
        TaskSchedule schedule = TaskSchedule.of(List.of(bounded, disabled), "UTC");
        assertThat(schedule.next(Instant.parse("2026-03-01T10:00:00Z"), 5)).containsExactly(
                Instant.parse("2026-03-01T10:05:00Z"), Instant.parse("2026-03-01T10:06:00Z"));
    }

    @Test
    void namesTheFieldAndTheReasonForABadCronExpression() {
        assertThatThrownBy(() -> TaskSchedule.of(List.of(cron("* * * * * ?"), cron("0 61 * * * ?")), "UTC"))
                .isInstanceOfSatisfying(InvalidScheduleException.class, e -> {
                    assertThat(e.field()).isEqualTo("schedules[1].expression");
                    assertThat(e.getMessage()).contains("'0 61 * * * ?'").contains("61");
                });
        assertThatThrownBy(() -> TaskSchedule.of(List.of(cron(" ")), "UTC"))
                .hasMessageContaining("cron expression is empty");
    }

    @Test
    void rejectsAnUnknownTimeZoneAndAnInvertedRange() {
        assertThatThrownBy(() -> TaskSchedule.of(List.of(cron("* * * * * ?")), "Mars/Olympus"))
                .isInstanceOfSatisfying(InvalidScheduleException.class,
                        e -> assertThat(e.field()).isEqualTo("timeZone"));
        Schedule inverted = cron("* * * * * ?").toBuilder()
                .setActiveFrom(Timestamps.of(Instant.parse("2026-03-02T00:00:00Z")))
                .setActiveUntil(Timestamps.of(Instant.parse("2026-03-01T00:00:00Z")))
                .build();
        assertThatThrownBy(() -> TaskSchedule.of(List.of(inverted), "UTC"))
                .isInstanceOfSatisfying(InvalidScheduleException.class,
                        e -> assertThat(e.field()).isEqualTo("schedules[0].activeUntil"));
    }

    @Test
    void manualOnlyNeverFires() {
        assertThat(TaskSchedule.manualOnly().nextAfter(Instant.EPOCH)).isEmpty();
        assertThat(TaskSchedule.manualOnly().hasSchedules()).isFalse();
    }
}
