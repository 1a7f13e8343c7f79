package io.cloudtask.schedule;

import io.cloudtask.proto.v1.DailyWindow;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;

/**
 * The daily window of a schedule: local times of day [start, end), wrapping midnight when end is
 * earlier than start. A fire is judged by the local time at which it actually happens.
 */
record TimeWindow(LocalTime start, LocalTime end) {
    private static final int MAX_STRETCHES = 16;

    static TimeWindow parse(String field, DailyWindow window) throws InvalidScheduleException {
        LocalTime start = ScheduleFields.timeOfDay(field + ".start", window.getStart());
        LocalTime end = ScheduleFields.timeOfDay(field + ".end", window.getEnd());
        if (start.equals(end)) {
            throw new InvalidScheduleException(field, "window starts and ends at " + start
                    + ", which is ambiguous: omit the window to allow the whole day, or give an end such as "
                    + start.plusHours(8));
        }
        return new TimeWindow(start, end);
    }

    boolean contains(Instant instant, ZoneId zone) {
        return contains(LocalTime.ofInstant(instant, zone));
    }

    private boolean contains(LocalTime time) {
        return start.isBefore(end)
                ? !time.isBefore(start) && time.isBefore(end)
                : !time.isBefore(start) || time.isBefore(end);
    }

    /**
     * The first instant at or after {@code instant} whose local time is inside the window, so a
     * search can jump over the closed part instead of stepping through it. Computed per stretch of
     * constant UTC offset, because a clock change can open the window again without the local time
     * passing {@code start} (the repeated hour of a fall-back) or carry it into the window (a gap).
     */
    Instant firstInstantInside(Instant instant, ZoneId zone) {
        ZoneRules rules = zone.getRules();
        Instant from = instant;
        // Each stretch between two clock changes that lasts a day or more contains an opening; the
        // bound only guards against a pathological rule set, and returning `from` is always safe
        // (the caller just searches on from an earlier instant).
        for (int stretch = 0; stretch < MAX_STRETCHES; stretch++) {
            ZoneOffset offset = rules.getOffset(from);
            LocalDateTime local = LocalDateTime.ofInstant(from, offset);
            if (contains(local.toLocalTime())) {
                return from;
            }
            LocalDateTime opening = local.toLocalTime().isBefore(start)
                    ? local.toLocalDate().atTime(start)
                    : local.toLocalDate().plusDays(1).atTime(start);
            Instant candidate = opening.toInstant(offset);
            ZoneOffsetTransition change = rules.nextTransition(from);
            if (change == null || candidate.isBefore(change.getInstant())) {
                return candidate;
            }
            from = change.getInstant();
        }
        return from;
    }

    @Override
    public String toString() {
        return start + "-" + end;
    }
}
