package io.cloudtask.schedule;

import io.cloudtask.proto.v1.WeeklySchedule;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * At a local time on chosen weekdays of every N-th week. Weeks start on Monday (ISO) and are
 * counted from the week containing the anchor day (see {@link DailyFireSource#anchorDay}). No fire
 * before the start date.
 */
final class WeeklyFireSource extends LocalTimeFireSource {
    static final int MAX_EVERY_WEEKS = 52;

    private final int everyWeeks;
    private final Set<DayOfWeek> days;
    private final LocalTime at;
    private final LocalDate anchorMonday;
    private final LocalDate startDate;

    private WeeklyFireSource(ZoneId zone, int everyWeeks, Set<DayOfWeek> days, LocalTime at, LocalDate anchorMonday,
            LocalDate startDate) {
        super(zone);
        this.everyWeeks = everyWeeks;
        this.days = days;
        this.at = at;
        this.anchorMonday = anchorMonday;
        this.startDate = startDate;
    }

    static WeeklyFireSource parse(String field, WeeklySchedule weekly, Instant activeFrom, ZoneId zone)
            throws InvalidScheduleException {
        int every = weekly.getEveryWeeks() == 0 ? 1 : weekly.getEveryWeeks();
        if (every < 1 || every > MAX_EVERY_WEEKS) {
            throw new InvalidScheduleException(field + ".everyWeeks", "everyWeeks is " + weekly.getEveryWeeks()
                    + "; use 1 to " + MAX_EVERY_WEEKS + " (omit it for every week)");
        }
        if (weekly.getDaysOfWeekCount() == 0) {
            throw new InvalidScheduleException(field + ".daysOfWeek",
                    "a weekly schedule needs at least one weekday, for example [\"MON\", \"FRI\"]");
        }
        Set<DayOfWeek> days = EnumSet.noneOf(DayOfWeek.class);
        for (int i = 0; i < weekly.getDaysOfWeekCount(); i++) {
            days.add(ScheduleFields.weekday(field + ".daysOfWeek[" + i + "]", weekly.getDaysOfWeekValue(i)));
        }
        LocalTime at = ScheduleFields.timeOfDay(field + ".at", weekly.getAt());
        LocalDate startDate = weekly.hasStartDate()
                ? ScheduleFields.date(field + ".startDate", weekly.getStartDate()) : null;
        LocalDate anchorMonday = DailyFireSource.anchorDay(startDate, activeFrom, zone)
                .with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
        return new WeeklyFireSource(zone, every, days, at, anchorMonday, startDate);
    }

    @Override
    Optional<LocalDateTime> nextLocalAfter(LocalDateTime local) {
        LocalDate day = local.toLocalDate();
        if (startDate != null && day.isBefore(startDate)) {
            day = startDate;
        }
        // The next matching day is at most one whole cycle of N weeks plus one week away.
        for (int i = 0; i < 7 * everyWeeks + 7; i++, day = day.plusDays(1)) {
            if (!days.contains(day.getDayOfWeek())) {
                continue;
            }
            long week = Math.floorDiv(ChronoUnit.DAYS.between(anchorMonday, day), 7);
            if (Math.floorMod(week, everyWeeks) != 0) {
                continue;
            }
            LocalDateTime candidate = day.atTime(at);
            if (candidate.isAfter(local)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
