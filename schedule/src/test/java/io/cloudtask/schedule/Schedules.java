package io.cloudtask.schedule;

import io.cloudtask.proto.v1.CalendarDate;
import io.cloudtask.proto.v1.CronSchedule;
import io.cloudtask.proto.v1.CronSyntax;
import io.cloudtask.proto.v1.DailySchedule;
import io.cloudtask.proto.v1.DailyWindow;
import io.cloudtask.proto.v1.IntervalSchedule;
import io.cloudtask.proto.v1.IntervalUnit;
import io.cloudtask.proto.v1.MonthlySchedule;
import io.cloudtask.proto.v1.NthWeekday;
import io.cloudtask.proto.v1.OnceSchedule;
import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.proto.v1.TimeOfDay;
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import io.cloudtask.proto.v1.WeeklySchedule;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.util.List;

/** Builders for schedule protos, so tests read like the schedules they describe. */
final class Schedules {
    private Schedules() {}

    static Schedule.Builder enabled() {
        return Schedule.newBuilder().setEnabled(true);
    }

    static Schedule cron(String expression) {
        return enabled().setCron(CronSchedule.newBuilder().setExpression(expression)
                .setSyntax(CronSyntax.CRON_SYNTAX_QUARTZ)).build();
    }

    static Schedule unixCron(String expression) {
        return enabled().setCron(CronSchedule.newBuilder().setExpression(expression)
                .setSyntax(CronSyntax.CRON_SYNTAX_UNIX)).build();
    }

    static Schedule every(long every, IntervalUnit unit) {
        return enabled().setInterval(IntervalSchedule.newBuilder().setEvery(every).setUnit(unit)).build();
    }

    static Schedule daily(String at) {
        return daily(1, at, null);
    }

    static Schedule daily(int everyDays, String at, LocalDate startDate) {
        DailySchedule.Builder daily = DailySchedule.newBuilder().setEveryDays(everyDays).setAt(time(at));
        if (startDate != null) {
            daily.setStartDate(date(startDate));
        }
        return enabled().setDaily(daily).build();
    }

    static Schedule weekly(int everyWeeks, List<Weekday> days, String at, LocalDate startDate) {
        WeeklySchedule.Builder weekly = WeeklySchedule.newBuilder().setEveryWeeks(everyWeeks)
                .addAllDaysOfWeek(days).setAt(time(at));
        if (startDate != null) {
            weekly.setStartDate(date(startDate));
        }
        return enabled().setWeekly(weekly).build();
    }

    static Schedule monthlyOnDay(List<Integer> months, int dayOfMonth, String at) {
        MonthlySchedule.Builder monthly = MonthlySchedule.newBuilder().addAllMonths(months).setAt(time(at));
        if (dayOfMonth > 0) {
            monthly.setDayOfMonth(dayOfMonth);
        } else {
            monthly.setDaysFromEnd(-dayOfMonth);
        }
        return enabled().setMonthly(monthly).build();
    }

    static Schedule monthlyOnWeekday(List<Integer> months, Weekday weekday, WeekdayOrdinal ordinal, String at) {
        return enabled().setMonthly(MonthlySchedule.newBuilder().addAllMonths(months).setAt(time(at))
                .setNthWeekday(NthWeekday.newBuilder().setWeekday(weekday).setOrdinal(ordinal))).build();
    }

    static Schedule once(String instant) {
        return enabled().setOnce(OnceSchedule.newBuilder().setAt(Timestamps.of(Instant.parse(instant)))).build();
    }

    static Schedule withWindow(Schedule schedule, String start, String end) {
        return schedule.toBuilder().setWindow(DailyWindow.newBuilder().setStart(time(start)).setEnd(time(end))).build();
    }

    static Schedule withRange(Schedule schedule, String from, String until) {
        Schedule.Builder builder = schedule.toBuilder();
        if (from != null) {
            builder.setActiveFrom(Timestamps.of(Instant.parse(from)));
        }
        if (until != null) {
            builder.setActiveUntil(Timestamps.of(Instant.parse(until)));
        }
        return builder.build();
    }

    static TimeOfDay time(String localTime) {
        return time(LocalTime.parse(localTime));
    }

    static TimeOfDay time(LocalTime time) {
        return TimeOfDay.newBuilder().setHours(time.getHour()).setMinutes(time.getMinute())
                .setSeconds(time.getSecond()).build();
    }

    static CalendarDate date(LocalDate date) {
        return CalendarDate.newBuilder().setYear(date.getYear()).setMonth(date.getMonthValue())
                .setDay(date.getDayOfMonth()).build();
    }

    /** The next {@code count} fires of one schedule strictly after {@code after}. */
    static List<Instant> fires(Schedule schedule, String zone, String after, int count) throws InvalidScheduleException {
        return TaskSchedule.of(List.of(schedule), zone).next(Instant.parse(after), count);
    }

    static List<Instant> instants(String... instants) {
        return java.util.Arrays.stream(instants).map(Instant::parse).toList();
    }
}
