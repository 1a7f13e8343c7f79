package io.cloudtask.schedule;

import static io.cloudtask.schedule.Schedules.cron;
import static io.cloudtask.schedule.Schedules.daily;
import static io.cloudtask.schedule.Schedules.every;
import static io.cloudtask.schedule.Schedules.fires;
import static io.cloudtask.schedule.Schedules.instants;
import static io.cloudtask.schedule.Schedules.monthlyOnWeekday;
import static io.cloudtask.schedule.Schedules.weekly;
import static io.cloudtask.schedule.Schedules.withWindow;
import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.proto.v1.IntervalUnit;
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The daylight saving rules of docs/scheduling.md. Berlin: 2026-03-29 02:00 CET jumps to 03:00
 * CEST (01:00Z); 2026-10-25 03:00 CEST falls back to 02:00 CET (01:00Z). New York: 2026-03-08
 * 02:00 EST jumps to 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT falls back to 01:00 EST (06:00Z).
 */
class DaylightSavingTest {
    private static final String BERLIN = "Europe/Berlin";
    private static final String NEW_YORK = "America/New_York";

    @Test
    void aDailyTimeInTheBerlinSpringGapFiresAtTheEndOfTheGap() throws Exception {
        assertThat(fires(daily("02:30"), BERLIN, "2026-03-27T12:00:00Z", 3)).isEqualTo(instants(
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST
                "2026-03-30T00:30:00Z")); // 02:30 CEST
    }

    @Test
    void aDailyTimeRepeatedInTheBerlinFallOverlapFiresOnlyAtItsFirstOccurrence() throws Exception {
        assertThat(fires(daily("02:30"), BERLIN, "2026-10-23T12:00:00Z", 3)).isEqualTo(instants(
                "2026-10-24T00:30:00Z", // 02:30 CEST
                "2026-10-25T00:30:00Z", // 02:30 CEST, the first of two 02:30s
                "2026-10-26T01:30:00Z")); // 02:30 CET
        // Asked during the second 02:00-03:00 (02:10 CET), the repeated 02:30 does not fire again.
        assertThat(fires(daily("02:30"), BERLIN, "2026-10-25T01:10:00Z", 1)).isEqualTo(instants("2026-10-26T01:30:00Z"));
        // 03:00 is not repeated (the overlap is 02:00 to 02:59:59) and fires once, in CET.
        assertThat(fires(daily("03:00"), BERLIN, "2026-10-24T12:00:00Z", 1)).isEqualTo(instants("2026-10-25T02:00:00Z"));
    }

    @Test
    void aDailyTimeInTheNewYorkSpringGapFiresAtTheEndOfTheGap() throws Exception {
        assertThat(fires(daily("02:30"), NEW_YORK, "2026-03-06T12:00:00Z", 3)).isEqualTo(instants(
                "2026-03-07T07:30:00Z", // 02:30 EST
                "2026-03-08T07:00:00Z", // 02:30 does not exist: 03:00 EDT
                "2026-03-09T06:30:00Z")); // 02:30 EDT
    }

    @Test
    void aDailyTimeRepeatedInTheNewYorkFallOverlapFiresOnlyAtItsFirstOccurrence() throws Exception {
        assertThat(fires(daily("01:30"), NEW_YORK, "2026-10-30T12:00:00Z", 3)).isEqualTo(instants(
                "2026-10-31T05:30:00Z", // 01:30 EDT
                "2026-11-01T05:30:00Z", // 01:30 EDT, not 01:30 EST (06:30Z)
                "2026-11-02T06:30:00Z")); // 01:30 EST
    }

    @Test
    void weeklyAndMonthlyFollowTheSameRules() throws Exception {
        // Both switch days are Sundays.
        assertThat(fires(weekly(1, List.of(Weekday.WEEKDAY_SUNDAY), "02:30", null), NEW_YORK, "2026-03-02T00:00:00Z", 2))
                .isEqualTo(instants("2026-03-08T07:00:00Z", "2026-03-15T06:30:00Z"));
        var lastSunday = monthlyOnWeekday(List.of(3, 10), Weekday.WEEKDAY_SUNDAY, WeekdayOrdinal.WEEKDAY_ORDINAL_LAST,
                "02:30");
        assertThat(fires(lastSunday, BERLIN, "2026-01-01T00:00:00Z", 2))
                .isEqualTo(instants("2026-03-29T01:00:00Z", "2026-10-25T00:30:00Z"));
    }

    @Test
    void cronFollowsTheSameRulesForEveryLocalTimeInTheGapAndTheOverlap() throws Exception {
        // Every quarter hour: the four times in the spring gap all become 03:00 CEST, which fires once.
        assertThat(fires(cron("0 */15 * * * ?"), BERLIN, "2026-03-29T00:30:00Z", 3))
                .isEqualTo(instants("2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"));
        // In the fall the second 02:00-02:45 (CET) does not fire again: 02:45 CEST is followed by 03:00 CET.
        assertThat(fires(cron("0 */15 * * * ?"), BERLIN, "2026-10-25T00:30:00Z", 3))
                .isEqualTo(instants("2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"));
        assertThat(fires(cron("0 30 2 * * ?"), NEW_YORK, "2026-03-07T12:00:00Z", 1)).isEqualTo(instants("2026-03-08T07:00:00Z"));
        assertThat(fires(cron("0 30 1 * * ?"), NEW_YORK, "2026-10-31T12:00:00Z", 2))
                .isEqualTo(instants("2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"));
    }

    @Test
    void intervalsCountElapsedTimeAcrossTheSwitches() throws Exception {
        // Hourly in Berlin's fall: 02:00 CEST, 02:00 CET, 03:00 CET: one hour apart each.
        assertThat(fires(every(1, IntervalUnit.INTERVAL_UNIT_HOURS), BERLIN, "2026-10-24T23:30:00Z", 3))
                .isEqualTo(instants("2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"));
        // Every 30 minutes in New York's spring: 01:30 EST then 03:00 EDT, 30 minutes later.
        assertThat(fires(every(30, IntervalUnit.INTERVAL_UNIT_MINUTES), NEW_YORK, "2026-03-08T06:15:00Z", 2))
                .isEqualTo(instants("2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z"));
        // Anchored at local midnight in winter, "every 2 hours" fires at even local hours in winter
        // and at odd local hours in summer.
        assertThat(fires(every(2, IntervalUnit.INTERVAL_UNIT_HOURS), BERLIN, "2026-01-15T10:30:00Z", 1))
                .isEqualTo(instants("2026-01-15T11:00:00Z")); // 12:00 CET
        assertThat(fires(every(2, IntervalUnit.INTERVAL_UNIT_HOURS), BERLIN, "2026-07-15T10:30:00Z", 1))
                .isEqualTo(instants("2026-07-15T11:00:00Z")); // 13:00 CEST
        // In New York's fall every 30 minutes keeps its pace through the repeated hour.
        assertThat(fires(every(30, IntervalUnit.INTERVAL_UNIT_MINUTES), NEW_YORK, "2026-11-01T05:10:00Z", 4))
                .isEqualTo(instants("2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z",
                        "2026-11-01T07:00:00Z"));
    }

    @Test
    void aWindowJudgesTheLocalTimeAFireActuallyHappensAt() throws Exception {
        // 02:30 is outside 03:00-04:00 on every day but the spring switch, where it fires at 03:00 CEST.
        var schedule = withWindow(daily("02:30"), "03:00", "04:00");
        assertThat(fires(schedule, BERLIN, "2026-01-01T00:00:00Z", 2))
                .isEqualTo(instants("2026-03-29T01:00:00Z", "2027-03-28T01:00:00Z"));
        // Both passes of the repeated hour are inside a 02:00-02:40 window for an interval.
        var interval = withWindow(every(20, IntervalUnit.INTERVAL_UNIT_MINUTES), "02:00", "02:40");
        assertThat(fires(interval, BERLIN, "2026-10-24T23:30:00Z", 5)).isEqualTo(instants(
                "2026-10-25T00:00:00Z", "2026-10-25T00:20:00Z", // 02:00 and 02:20 CEST
                "2026-10-25T01:00:00Z", "2026-10-25T01:20:00Z", // 02:00 and 02:20 CET
                "2026-10-26T01:00:00Z"));
    }

    @Test
    void aHalfHourSwitchIsHandledLikeAnyOther() throws Exception {
        // Lord Howe Island moves from +10:30 to +11:00 at 02:00 on 2026-10-04.
        assertThat(fires(daily("02:15"), "Australia/Lord_Howe", "2026-10-02T12:00:00Z", 3)).isEqualTo(instants(
                "2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"));
    }
}
