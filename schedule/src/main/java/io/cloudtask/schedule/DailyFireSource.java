package io.cloudtask.schedule;

import io.cloudtask.proto.v1.DailySchedule;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * At a local time on every N-th day. Days are counted from the anchor day: the start date, else
 * the local date of {@code active_from}, else {@link IntervalFireSource#REFERENCE_DAY}. No fire
 * before the start date. Computed directly, without a search.
 */
final class DailyFireSource extends LocalTimeFireSource {
    static final int MAX_EVERY_DAYS = 365;

    private final int everyDays;
    private final LocalTime at;
    private final LocalDate anchor;
    private final LocalDate startDate;

    private DailyFireSource(ZoneId zone, int everyDays, LocalTime at, LocalDate anchor, LocalDate startDate) {
        super(zone);
        this.everyDays = everyDays;
        this.at = at;
        this.anchor = anchor;
        this.startDate = startDate;
    }

    static DailyFireSource parse(String field, DailySchedule daily, Instant activeFrom, ZoneId zone)
            throws InvalidScheduleException {
        int every = daily.getEveryDays() == 0 ? 1 : daily.getEveryDays();
        if (every < 1 || every > MAX_EVERY_DAYS) {
            throw new InvalidScheduleException(field + ".everyDays", "everyDays is " + daily.getEveryDays()
                    + "; use 1 to " + MAX_EVERY_DAYS + " (omit it for every day)");
        }
        LocalTime at = ScheduleFields.timeOfDay(field + ".at", daily.getAt());
        LocalDate startDate = daily.hasStartDate() ? ScheduleFields.date(field + ".startDate", daily.getStartDate()) : null;
        return new DailyFireSource(zone, every, at, anchorDay(startDate, activeFrom, zone), startDate);
    }

    /** The day counting of "every N days / weeks" starts from. */
    static LocalDate anchorDay(LocalDate startDate, Instant activeFrom, ZoneId zone) {
        if (startDate != null) {
            return startDate;
        }
        return activeFrom != null ? LocalDate.ofInstant(activeFrom, zone) : IntervalFireSource.REFERENCE_DAY;
    }

    @Override
    Optional<LocalDateTime> nextLocalAfter(LocalDateTime local) {
        LocalDate day = local.toLocalDate();
        if (!day.atTime(at).isAfter(local)) {
            day = day.plusDays(1);
        }
        if (startDate != null && day.isBefore(startDate)) {
            day = startDate;
        }
        long offset = Math.floorMod(ChronoUnit.DAYS.between(anchor, day), everyDays);
        if (offset != 0) {
            day = day.plusDays(everyDays - offset);
        }
        return Optional.of(day.atTime(at));
    }
}
