package io.cloudtask.schedule;

import static io.cloudtask.schedule.Schedules.cron;
import static io.cloudtask.schedule.Schedules.daily;
import static io.cloudtask.schedule.Schedules.every;
import static io.cloudtask.schedule.Schedules.monthlyOnDay;
import static io.cloudtask.schedule.Schedules.monthlyOnWeekday;
import static io.cloudtask.schedule.Schedules.once;
import static io.cloudtask.schedule.Schedules.time;
import static io.cloudtask.schedule.Schedules.weekly;
import static io.cloudtask.schedule.Schedules.withRange;
import static io.cloudtask.schedule.Schedules.withWindow;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.cloudtask.proto.v1.CalendarDate;
import io.cloudtask.proto.v1.DailySchedule;
import io.cloudtask.proto.v1.IntervalSchedule;
import io.cloudtask.proto.v1.IntervalUnit;
import io.cloudtask.proto.v1.MonthlySchedule;
import io.cloudtask.proto.v1.OnceSchedule;
import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.proto.v1.TimeOfDay;
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import java.time.Duration;
import java.util.List;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;

/** Schedules that can never fire, or are malformed, are rejected naming the REST field and the reason. */
class NeverFireTest {
    private static AbstractThrowableAssert<?, ? extends Throwable> rejecting(String zone, Schedule... schedules) {
        return assertThatThrownBy(() -> TaskSchedule.of(List.of(schedules), zone))
                .isInstanceOf(InvalidScheduleException.class);
    }

    private static void rejects(Schedule schedule, String field, String... reasons) {
        rejecting("Europe/Berlin", daily("12:00"), schedule).satisfies(e -> {
            InvalidScheduleException invalid = (InvalidScheduleException) e;
            assertThat(invalid.field()).isEqualTo(field);
            assertThat(invalid.getMessage()).contains(reasons);
        });
    }

    @Test
    void rejectsThe31stInMonthsOf30Days() {
        rejects(monthlyOnDay(List.of(4, 6, 9, 11), 31, "08:00"), "schedules[1].dayOfMonth",
                "day 31 never occurs", "(4, 6, 9, 11)", "at most 30 days");
    }

    @Test
    void rejects30FebruaryButAccepts29() throws Exception {
        rejects(monthlyOnDay(List.of(2), 30, "08:00"), "schedules[1].dayOfMonth", "day 30 never occurs", "at most 29 days");
        rejects(monthlyOnDay(List.of(2), -30, "08:00"), "schedules[1].dayOfMonth", "-30", "never occurs");
        assertThat(TaskSchedule.of(List.of(monthlyOnDay(List.of(2), 29, "08:00")), "UTC").hasSchedules()).isTrue();
    }

    @Test
    void rejectsACronExpressionWithNoMatchingDate() {
        rejects(cron("0 0 0 30 2 ?"), "schedules[1].expression", "never fires");
        rejects(cron("0 0 0 31 4,6,9,11 ?"), "schedules[1].expression", "never fires");
    }

    @Test
    void rejectsAnActiveRangeWithoutAFire() {
        // Daily at noon Berlin (11:00Z in winter), active only from 12:00Z to 23:00Z of one day.
        rejects(withRange(daily("12:00"), "2026-01-10T12:00:00Z", "2026-01-10T23:00:00Z"), "schedules[1].activeUntil",
                "no fire", "2026-01-11T11:00:00Z");
        rejects(withRange(once("2026-01-01T00:00:00Z"), "2026-02-01T00:00:00Z", null), "schedules[1].activeFrom",
                "no fire on or after activeFrom");
        rejects(withRange(once("2027-01-01T00:00:00Z"), null, "2026-02-01T00:00:00Z"), "schedules[1].activeUntil",
                "2027-01-01T00:00:00Z");
    }

    @Test
    void rejectsAWindowThatExcludesEveryFire() {
        rejects(withWindow(daily("20:00"), "09:00", "17:00"), "schedules[1].window", "09:00-17:00", "excludes every fire");
        rejects(withWindow(once("2026-06-01T20:00:00Z"), "09:00", "17:00"), "schedules[1].window", "excludes every fire");
        rejects(withWindow(cron("0 0 20 * * ?"), "21:00", "08:00"), "schedules[1].window", "excludes every fire");
        rejects(withWindow(monthlyOnWeekday(List.of(), Weekday.WEEKDAY_FRIDAY, WeekdayOrdinal.WEEKDAY_ORDINAL_LAST,
                "18:00"), "06:00", "18:00"), "schedules[1].window", "excludes every fire");
    }

    @Test
    void theWindowSearchIsBoundedSoAnImpossibleScheduleIsRejectedQuickly() {
        // Every 24 hours from local midnight (elapsed time, so 23:00 or 01:00 around the switches)
        // never falls in 09:00-17:00; the search gives up after a bounded number of fires.
        Schedule everyDay = withWindow(every(24, IntervalUnit.INTERVAL_UNIT_HOURS), "09:00", "17:00");
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> rejects(everyDay, "schedules[1].window",
                "searched " + ActiveSource.MAX_FIRES_OUTSIDE_WINDOW + " fires"));
    }

    @Test
    void rejectsAWindowThatStartsWhereItEnds() {
        rejects(withWindow(daily("08:00"), "09:00", "09:00"), "schedules[1].window", "ambiguous");
    }

    @Test
    void rejectsMalformedFieldsOfEachKindByName() {
        rejects(Schedules.enabled().setInterval(IntervalSchedule.newBuilder().setEvery(5)).build(),
                "schedules[1].unit", "seconds");
        rejects(every(0, IntervalUnit.INTERVAL_UNIT_MINUTES), "schedules[1].every", "use 1 to");
        rejects(every(367 * 24, IntervalUnit.INTERVAL_UNIT_HOURS), "schedules[1].every", "366 days");
        rejects(daily(400, "08:00", null), "schedules[1].everyDays", "1 to 365");
        rejects(Schedules.enabled().setDaily(DailySchedule.newBuilder()
                .setAt(TimeOfDay.newBuilder().setHours(24))).build(), "schedules[1].at", "hours 0-23");
        rejects(Schedules.enabled().setDaily(DailySchedule.newBuilder().setAt(time("08:00"))
                .setStartDate(CalendarDate.newBuilder().setYear(2026).setMonth(2).setDay(30))).build(),
                "schedules[1].startDate", "does not exist");
        rejects(weekly(1, List.of(), "08:00", null), "schedules[1].daysOfWeek", "at least one weekday");
        rejects(weekly(60, List.of(Weekday.WEEKDAY_MONDAY), "08:00", null), "schedules[1].everyWeeks", "1 to 52");
        rejects(weekly(1, List.of(Weekday.WEEKDAY_MONDAY, Weekday.WEEKDAY_UNSPECIFIED), "08:00", null),
                "schedules[1].daysOfWeek[1]", "MON");
        rejects(Schedules.enabled().setMonthly(MonthlySchedule.newBuilder().setAt(time("08:00"))).build(),
                "schedules[1].dayOfMonth", "needs a day");
        rejects(monthlyOnDay(List.of(13), 1, "08:00"), "schedules[1].months[0]", "1 (January) to 12");
        rejects(monthlyOnDay(List.of(), 32, "08:00"), "schedules[1].dayOfMonth", "1 to 31");
        rejects(monthlyOnWeekday(List.of(), Weekday.WEEKDAY_MONDAY, WeekdayOrdinal.WEEKDAY_ORDINAL_UNSPECIFIED, "08:00"),
                "schedules[1].weekdayOrdinal", "-1 (last)");
        rejects(monthlyOnWeekday(List.of(), Weekday.WEEKDAY_UNSPECIFIED, WeekdayOrdinal.WEEKDAY_ORDINAL_FIRST, "08:00"),
                "schedules[1].weekday", "MON");
        rejects(Schedules.enabled().setOnce(OnceSchedule.getDefaultInstance()).build(), "schedules[1].at", "instant");
        rejects(Schedules.enabled().build(), "schedules[1].type", "cron, interval, daily, weekly, monthly or once");
    }

    @Test
    void checksDisabledSchedulesToo() {
        Schedule disabled = monthlyOnDay(List.of(2), 31, "08:00").toBuilder().setEnabled(false).build();
        rejects(disabled, "schedules[1].dayOfMonth", "never occurs");
    }
}
