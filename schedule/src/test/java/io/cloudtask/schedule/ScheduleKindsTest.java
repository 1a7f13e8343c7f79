package io.cloudtask.schedule;

import static io.cloudtask.schedule.Schedules.cron;
import static io.cloudtask.schedule.Schedules.daily;
import static io.cloudtask.schedule.Schedules.every;
import static io.cloudtask.schedule.Schedules.fires;
import static io.cloudtask.schedule.Schedules.instants;
import static io.cloudtask.schedule.Schedules.monthlyOnDay;
import static io.cloudtask.schedule.Schedules.monthlyOnWeekday;
import static io.cloudtask.schedule.Schedules.once;
import static io.cloudtask.schedule.Schedules.unixCron;
import static io.cloudtask.schedule.Schedules.weekly;
import static io.cloudtask.schedule.Schedules.withRange;
import static io.cloudtask.schedule.Schedules.withWindow;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.proto.v1.IntervalUnit;
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every schedule kind against fixed instants (time-zone switches are in {@link DaylightSavingTest}). */
class ScheduleKindsTest {
    private static final List<Integer> ALL_MONTHS = List.of();

    @Test
    void intervalInSecondsCountsFromLocalMidnightOfTheReferenceDay() throws Exception {
        // 2000-01-01T00:00Z to 2026-01-01T00:00Z is 820,540,800 s, a multiple of 45.
        assertThat(fires(every(45, IntervalUnit.INTERVAL_UNIT_SECONDS), "UTC", "2026-01-01T00:00:00Z", 3))
                .isEqualTo(instants("2026-01-01T00:00:45Z", "2026-01-01T00:01:30Z", "2026-01-01T00:02:15Z"));
    }

    @Test
    void intervalWithoutActiveFromIsAlignedToLocalMidnight() throws Exception {
        // Kolkata is UTC+05:30: quarter hours of local time are quarter hours of UTC, but whole
        // hours of local time are half past in UTC.
        assertThat(fires(every(1, IntervalUnit.INTERVAL_UNIT_HOURS), "Asia/Kolkata", "2026-06-01T10:00:00Z", 2))
                .isEqualTo(instants("2026-06-01T10:30:00Z", "2026-06-01T11:30:00Z"));
        assertThat(fires(every(15, IntervalUnit.INTERVAL_UNIT_MINUTES), "Asia/Kolkata", "2026-06-01T10:01:00Z", 2))
                .isEqualTo(instants("2026-06-01T10:15:00Z", "2026-06-01T10:30:00Z"));
    }

    @Test
    void intervalIsAnchoredAtActiveFromWhichFiresItself() throws Exception {
        var schedule = withRange(every(90, IntervalUnit.INTERVAL_UNIT_MINUTES), "2026-05-01T08:10:00Z", null);
        assertThat(fires(schedule, "Europe/Berlin", "2026-05-01T00:00:00Z", 3))
                .isEqualTo(instants("2026-05-01T08:10:00Z", "2026-05-01T09:40:00Z", "2026-05-01T11:10:00Z"));
        assertThat(fires(schedule, "Europe/Berlin", "2026-05-01T09:40:00Z", 1))
                .isEqualTo(instants("2026-05-01T11:10:00Z"));
    }

    @Test
    void intervalFiresOnlyInsideItsWindowAndTheWindowEndIsExclusive() throws Exception {
        var schedule = withWindow(every(15, IntervalUnit.INTERVAL_UNIT_MINUTES), "09:00", "17:00");
        assertThat(fires(schedule, "UTC", "2026-06-01T16:30:00Z", 3))
                .isEqualTo(instants("2026-06-01T16:45:00Z", "2026-06-02T09:00:00Z", "2026-06-02T09:15:00Z"));
    }

    @Test
    void aWindowEndingBeforeItStartsWrapsMidnight() throws Exception {
        var schedule = withWindow(every(1, IntervalUnit.INTERVAL_UNIT_HOURS), "22:00", "02:00");
        assertThat(fires(schedule, "UTC", "2026-06-01T12:00:00Z", 5)).isEqualTo(instants(
                "2026-06-01T22:00:00Z", "2026-06-01T23:00:00Z", "2026-06-02T00:00:00Z", "2026-06-02T01:00:00Z",
                "2026-06-02T22:00:00Z"));
    }

    @Test
    void dailyFiresAtItsLocalTime() throws Exception {
        assertThat(fires(daily("06:30"), "Europe/Berlin", "2026-01-10T05:30:00Z", 2))
                .isEqualTo(instants("2026-01-11T05:30:00Z", "2026-01-12T05:30:00Z"));
        assertThat(fires(daily("06:30"), "Europe/Berlin", "2026-07-10T00:00:00Z", 1))
                .isEqualTo(instants("2026-07-10T04:30:00Z"));
    }

    @Test
    void dailyEveryThirdDayCountsFromTheStartDateAndNeverFiresBeforeIt() throws Exception {
        var schedule = daily(3, "12:00:30", LocalDate.of(2026, 2, 27));
        assertThat(fires(schedule, "UTC", "2026-01-01T00:00:00Z", 4)).isEqualTo(instants(
                "2026-02-27T12:00:30Z", "2026-03-02T12:00:30Z", "2026-03-05T12:00:30Z", "2026-03-08T12:00:30Z"));
    }

    @Test
    void dailyEverySecondDayWithoutStartDateCountsFromActiveFromsLocalDate() throws Exception {
        // activeFrom is 2026-03-09 23:30 UTC, which is already 10 March in Berlin.
        var schedule = withRange(daily(2, "08:00", null), "2026-03-09T23:30:00Z", null);
        assertThat(fires(schedule, "Europe/Berlin", "2026-03-01T00:00:00Z", 3))
                .isEqualTo(instants("2026-03-10T07:00:00Z", "2026-03-12T07:00:00Z", "2026-03-14T07:00:00Z"));
    }

    @Test
    void weeklyEverySecondWeekOnMondayAndFriday() throws Exception {
        var schedule = weekly(2, List.of(Weekday.WEEKDAY_MONDAY, Weekday.WEEKDAY_FRIDAY), "06:30",
                LocalDate.of(2026, 1, 5));
        assertThat(fires(schedule, "Europe/Berlin", "2025-12-01T00:00:00Z", 5)).isEqualTo(instants(
                "2026-01-05T05:30:00Z", "2026-01-09T05:30:00Z", "2026-01-19T05:30:00Z", "2026-01-23T05:30:00Z",
                "2026-02-02T05:30:00Z"));
    }

    @Test
    void weeklyWeeksStartOnMondaySoAStartDateMidweekSkipsOnlyThatWeeksEarlierDays() throws Exception {
        // Wednesday 2026-01-07 starts it: Monday 5th is before the start, Friday 9th fires, the
        // next week (12th-16th) is skipped, and the week of the 19th fires.
        var schedule = weekly(2, List.of(Weekday.WEEKDAY_MONDAY, Weekday.WEEKDAY_FRIDAY), "06:30",
                LocalDate.of(2026, 1, 7));
        assertThat(fires(schedule, "UTC", "2026-01-01T00:00:00Z", 3))
                .isEqualTo(instants("2026-01-09T06:30:00Z", "2026-01-19T06:30:00Z", "2026-01-23T06:30:00Z"));
    }

    @Test
    void monthlyOnTheLastDayOfChosenMonths() throws Exception {
        var schedule = monthlyOnDay(List.of(1, 4, 7, 10), -1, "23:00");
        assertThat(fires(schedule, "UTC", "2026-01-01T00:00:00Z", 5)).isEqualTo(instants(
                "2026-01-31T23:00:00Z", "2026-04-30T23:00:00Z", "2026-07-31T23:00:00Z", "2026-10-31T23:00:00Z",
                "2027-01-31T23:00:00Z"));
    }

    @Test
    void monthlyOnThe31stSkipsShorterMonths() throws Exception {
        assertThat(fires(monthlyOnDay(ALL_MONTHS, 31, "00:00"), "UTC", "2026-01-01T00:00:00Z", 7)).isEqualTo(instants(
                "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
                "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z"));
    }

    @Test
    void monthlyOn29FebruaryFiresInLeapYearsOnly() throws Exception {
        assertThat(fires(monthlyOnDay(List.of(2), 29, "09:00"), "UTC", "2026-01-01T00:00:00Z", 2))
                .isEqualTo(instants("2028-02-29T09:00:00Z", "2032-02-29T09:00:00Z"));
        // 2100 is no leap year: the search has to span eight years.
        assertThat(fires(monthlyOnDay(List.of(2), 29, "09:00"), "UTC", "2096-03-01T00:00:00Z", 1))
                .isEqualTo(instants("2104-02-29T09:00:00Z"));
    }

    @Test
    void monthlyCountingBackFromTheEndFollowsEachMonthsLength() throws Exception {
        // Third day from the end: 26 Feb 2026 (28 days), 29 March, 28 April, 27 Feb 2028 (29 days).
        var schedule = monthlyOnDay(List.of(2, 3, 4), -3, "12:00");
        assertThat(fires(schedule, "UTC", "2026-01-01T00:00:00Z", 3))
                .isEqualTo(instants("2026-02-26T12:00:00Z", "2026-03-29T12:00:00Z", "2026-04-28T12:00:00Z"));
        assertThat(fires(schedule, "UTC", "2028-01-01T00:00:00Z", 1)).isEqualTo(instants("2028-02-27T12:00:00Z"));
    }

    @Test
    void monthlyOnTheLastFridayIsTheFifthFridayWhenThereIsOne() throws Exception {
        // January and May 2026 have five Fridays, February four.
        var schedule = monthlyOnWeekday(List.of(1, 2, 5), Weekday.WEEKDAY_FRIDAY, WeekdayOrdinal.WEEKDAY_ORDINAL_LAST,
                "18:00");
        assertThat(fires(schedule, "UTC", "2026-01-01T00:00:00Z", 3))
                .isEqualTo(instants("2026-01-30T18:00:00Z", "2026-02-27T18:00:00Z", "2026-05-29T18:00:00Z"));
    }

    @Test
    void monthlyOnTheNthWeekday() throws Exception {
        var fourthFriday = monthlyOnWeekday(ALL_MONTHS, Weekday.WEEKDAY_FRIDAY, WeekdayOrdinal.WEEKDAY_ORDINAL_FOURTH,
                "18:00");
        assertThat(fires(fourthFriday, "UTC", "2026-01-01T00:00:00Z", 2))
                .isEqualTo(instants("2026-01-23T18:00:00Z", "2026-02-27T18:00:00Z"));
        var secondTuesday = monthlyOnWeekday(ALL_MONTHS, Weekday.WEEKDAY_TUESDAY, WeekdayOrdinal.WEEKDAY_ORDINAL_SECOND,
                "08:00");
        assertThat(fires(secondTuesday, "UTC", "2026-01-01T00:00:00Z", 2))
                .isEqualTo(instants("2026-01-13T08:00:00Z", "2026-02-10T08:00:00Z"));
    }

    @Test
    void onceFiresOnceAtItsInstant() throws Exception {
        var schedule = once("2026-12-24T18:00:00Z");
        assertThat(fires(schedule, "Europe/Berlin", "2026-01-01T00:00:00Z", 3)).isEqualTo(instants("2026-12-24T18:00:00Z"));
        assertThat(fires(schedule, "Europe/Berlin", "2026-12-24T18:00:00Z", 3)).isEmpty();
    }

    @Test
    void aOnceScheduleInThePastIsValidAndFiresNoMore() throws Exception {
        assertThat(fires(once("2021-05-01T00:00:00Z"), "UTC", "2026-01-01T00:00:00Z", 1)).isEmpty();
    }

    @Test
    void cronMacrosMeanWhatCrontabMeansInEitherSyntax() throws Exception {
        String after = "2026-03-04T12:00:00Z";
        assertThat(fires(cron("@yearly"), "UTC", after, 1)).isEqualTo(instants("2027-01-01T00:00:00Z"));
        assertThat(fires(cron("@annually"), "UTC", after, 1)).isEqualTo(instants("2027-01-01T00:00:00Z"));
        assertThat(fires(cron("@monthly"), "UTC", after, 1)).isEqualTo(instants("2026-04-01T00:00:00Z"));
        // 2026-03-04 is a Wednesday; @weekly is Sunday midnight.
        assertThat(fires(cron("@weekly"), "UTC", after, 1)).isEqualTo(instants("2026-03-08T00:00:00Z"));
        assertThat(fires(cron("@daily"), "Europe/Berlin", after, 1)).isEqualTo(instants("2026-03-04T23:00:00Z"));
        assertThat(fires(unixCron("@midnight"), "UTC", after, 1)).isEqualTo(instants("2026-03-05T00:00:00Z"));
        assertThat(fires(unixCron("@HOURLY"), "UTC", after, 2))
                .isEqualTo(instants("2026-03-04T13:00:00Z", "2026-03-04T14:00:00Z"));
        assertThatThrownBy(() -> TaskSchedule.of(List.of(cron("@reboot")), "UTC"))
                .isInstanceOfSatisfying(InvalidScheduleException.class, e -> {
                    assertThat(e.field()).isEqualTo("schedules[0].expression");
                    assertThat(e.getMessage()).contains("@reboot").contains("@hourly");
                });
    }

    @Test
    void twoKindsProducingTheSameInstantFireItOnce() throws Exception {
        TaskSchedule schedule = TaskSchedule.of(List.of(daily("12:00"), every(6, IntervalUnit.INTERVAL_UNIT_HOURS),
                once("2026-06-01T12:00:00Z")), "UTC");
        assertThat(schedule.next(Instant.parse("2026-06-01T05:00:00Z"), 4)).isEqualTo(instants(
                "2026-06-01T06:00:00Z", "2026-06-01T12:00:00Z", "2026-06-01T18:00:00Z", "2026-06-02T00:00:00Z"));
    }

    @Test
    void tasksSharingACronExpressionInDifferentZonesAndAtDifferentTimesEachGetTheirOwnNextFire() throws Exception {
        // The parse and the last answer of an expression are shared between tasks: interleaved
        // questions about other instants and zones must never get each other's answers.
        TaskSchedule utc = TaskSchedule.of(List.of(cron("0 0 9 * * ?")), "UTC");
        TaskSchedule tokyo = TaskSchedule.of(List.of(cron("0 0 9 * * ?")), "Asia/Tokyo");
        Instant after = Instant.parse("2026-06-01T08:00:00Z");

        assertThat(utc.nextAfter(after)).contains(Instant.parse("2026-06-01T09:00:00Z"));
        assertThat(tokyo.nextAfter(after)).contains(Instant.parse("2026-06-02T00:00:00Z"));
        assertThat(utc.nextAfter(after)).contains(Instant.parse("2026-06-01T09:00:00Z"));
        assertThat(utc.nextAfter(Instant.parse("2026-06-01T09:00:00Z"))).contains(Instant.parse("2026-06-02T09:00:00Z"));
        assertThat(tokyo.nextAfter(after)).contains(Instant.parse("2026-06-02T00:00:00Z"));
        assertThat(fires(unixCron("0 9 * * *"), "UTC", "2026-06-01T08:00:00Z", 1))
                .isEqualTo(instants("2026-06-01T09:00:00Z"));
    }
}
