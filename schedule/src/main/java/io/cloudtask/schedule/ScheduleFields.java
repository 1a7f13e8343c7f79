package io.cloudtask.schedule;

import com.google.protobuf.Timestamp;
import io.cloudtask.proto.v1.CalendarDate;
import io.cloudtask.proto.v1.TimeOfDay;
import java.time.DateTimeException;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;

/** Checked conversions of the proto field types every kind shares, with field-named errors. */
final class ScheduleFields {
    /** Dates and instants outside these years are almost certainly typos, and bound all arithmetic. */
    static final int MIN_YEAR = 1970;
    static final int MAX_YEAR = 9999;
    private static final Instant MIN_INSTANT = Instant.parse("1970-01-01T00:00:00Z");
    private static final Instant MAX_INSTANT = Instant.parse("9999-12-31T23:59:59Z");

    private ScheduleFields() {}

    static LocalTime timeOfDay(String field, TimeOfDay time) throws InvalidScheduleException {
        int h = time.getHours();
        int m = time.getMinutes();
        int s = time.getSeconds();
        if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) {
            throw new InvalidScheduleException(field, "time of day " + h + ":" + m + ":" + s
                    + " is out of range: use hours 0-23, minutes 0-59, seconds 0-59, for example '06:30'");
        }
        return LocalTime.of(h, m, s);
    }

    static LocalDate date(String field, CalendarDate date) throws InvalidScheduleException {
        if (date.getYear() < MIN_YEAR || date.getYear() > MAX_YEAR) {
            throw new InvalidScheduleException(field, "year " + date.getYear() + " is out of range "
                    + MIN_YEAR + "-" + MAX_YEAR);
        }
        try {
            return LocalDate.of(date.getYear(), date.getMonth(), date.getDay());
        } catch (DateTimeException e) {
            throw new InvalidScheduleException(field, "date " + date.getYear() + "-" + date.getMonth() + "-"
                    + date.getDay() + " does not exist: " + e.getMessage());
        }
    }

    static Instant instant(String field, Timestamp timestamp) throws InvalidScheduleException {
        Instant instant = Timestamps.toInstant(timestamp);
        if (instant.isBefore(MIN_INSTANT) || instant.isAfter(MAX_INSTANT)) {
            throw new InvalidScheduleException(field, instant + " is out of range: use an instant between "
                    + MIN_INSTANT + " and " + MAX_INSTANT);
        }
        return instant;
    }

    /** A {@code Weekday} by its wire number (unknown numbers from a newer writer are rejected too). */
    static DayOfWeek weekday(String field, int number) throws InvalidScheduleException {
        if (number < 1 || number > 7) {
            throw new InvalidScheduleException(field, "a weekday is required: one of MON, TUE, WED, THU, FRI, SAT, SUN");
        }
        return DayOfWeek.of(number);
    }
}
