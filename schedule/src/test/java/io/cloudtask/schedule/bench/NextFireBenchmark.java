package io.cloudtask.schedule.bench;

import io.cloudtask.proto.v1.CronSchedule;
import io.cloudtask.proto.v1.DailySchedule;
import io.cloudtask.proto.v1.DailyWindow;
import io.cloudtask.proto.v1.IntervalSchedule;
import io.cloudtask.proto.v1.IntervalUnit;
import io.cloudtask.proto.v1.MonthlySchedule;
import io.cloudtask.proto.v1.NthWeekday;
import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.proto.v1.TimeOfDay;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeeklySchedule;
import io.cloudtask.schedule.TaskSchedule;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Cost of one next-fire computation per schedule kind, in the Europe/Berlin zone, from an
 * instant that moves forward every call (as an agent's timer does). Run with
 * {@code ./mvnw -B -pl schedule -am -Pbench verify -DskipTests} (see docs/BENCHMARKS.md).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class NextFireBenchmark {
    @Param({"cron-every-second", "cron-weekdays", "interval-15m-window", "daily", "weekly", "monthly-last-friday"})
    public String kind;

    private TaskSchedule schedule;
    private Instant cursor;

    @Setup
    public void compile() throws Exception {
        TimeOfDay nine = TimeOfDay.newBuilder().setHours(9).build();
        Schedule.Builder builder = Schedule.newBuilder().setEnabled(true);
        switch (kind) {
            case "cron-every-second" -> builder.setCron(CronSchedule.newBuilder().setExpression("* * * * * ?"));
            case "cron-weekdays" -> builder.setCron(CronSchedule.newBuilder().setExpression("30 0/15 9-17 ? * MON-FRI"));
            case "interval-15m-window" -> builder.setInterval(IntervalSchedule.newBuilder().setEvery(15)
                            .setUnit(IntervalUnit.INTERVAL_UNIT_MINUTES))
                    .setWindow(DailyWindow.newBuilder().setStart(nine).setEnd(TimeOfDay.newBuilder().setHours(17)));
            case "daily" -> builder.setDaily(DailySchedule.newBuilder().setEveryDays(1).setAt(nine));
            case "weekly" -> builder.setWeekly(WeeklySchedule.newBuilder().setEveryWeeks(2)
                    .addDaysOfWeek(Weekday.WEEKDAY_MONDAY).addDaysOfWeek(Weekday.WEEKDAY_FRIDAY).setAt(nine));
            case "monthly-last-friday" -> builder.setMonthly(MonthlySchedule.newBuilder()
                    .setNthWeekday(NthWeekday.newBuilder().setWeekday(Weekday.WEEKDAY_FRIDAY)
                            .setOrdinal(WeekdayOrdinal.WEEKDAY_ORDINAL_LAST)).setAt(nine));
            default -> throw new IllegalArgumentException(kind);
        }
        schedule = TaskSchedule.of(List.of(builder.build()), "Europe/Berlin");
        cursor = Instant.parse("2026-03-27T00:00:00Z");
    }

    @Benchmark
    public Instant nextFire() {
        Instant next = schedule.nextAfter(cursor).orElseThrow();
        // Walk forward through fire times, wrapping so the cursor stays in a realistic range.
        cursor = next.isAfter(Instant.parse("2036-01-01T00:00:00Z")) ? Instant.parse("2026-03-27T00:00:00Z") : next;
        return next;
    }
}
