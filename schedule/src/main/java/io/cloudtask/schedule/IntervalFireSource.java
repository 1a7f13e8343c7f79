package io.cloudtask.schedule;

import io.cloudtask.proto.v1.IntervalSchedule;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.Optional;

/**
 * Every N seconds, minutes or hours of elapsed time: fires at anchor + k * period for every
 * integer k. Elapsed time, not wall-clock time, so a daylight saving switch neither doubles nor
 * drops a fire (an "every 2 hours" schedule fires at even local hours in winter and odd ones in
 * summer in Berlin). The anchor is {@code active_from} when set, otherwise local midnight of
 * {@link #REFERENCE_DAY} in the task's zone: a fixed day, so every replica and agent computes the
 * same phase no matter when it asks.
 */
final class IntervalFireSource implements FireSource {
    static final LocalDate REFERENCE_DAY = LocalDate.of(2000, 1, 1);
    /** Longer periods are better written as daily, weekly or monthly schedules. */
    static final long MAX_PERIOD_SECONDS = 366L * 24 * 3600;

    private final Instant anchor;
    private final long periodSeconds;

    private IntervalFireSource(Instant anchor, long periodSeconds) {
        this.anchor = anchor;
        this.periodSeconds = periodSeconds;
    }

    static IntervalFireSource parse(String field, IntervalSchedule interval, Instant activeFrom, ZoneId zone)
            throws InvalidScheduleException {
        long unitSeconds = switch (interval.getUnit()) {
            case INTERVAL_UNIT_SECONDS -> 1;
            case INTERVAL_UNIT_MINUTES -> 60;
            case INTERVAL_UNIT_HOURS -> 3600;
            case INTERVAL_UNIT_UNSPECIFIED, UNRECOGNIZED -> throw new InvalidScheduleException(field + ".unit",
                    "an interval needs a unit: \"seconds\", \"minutes\" or \"hours\"");
        };
        long every = interval.getEvery();
        if (every < 1 || every > MAX_PERIOD_SECONDS / unitSeconds) {
            throw new InvalidScheduleException(field + ".every", "every is " + every + "; use 1 to "
                    + MAX_PERIOD_SECONDS / unitSeconds + " (at most 366 days); for longer periods use a daily,"
                    + " weekly or monthly schedule");
        }
        Instant anchor = activeFrom != null ? activeFrom : WallClock.resolve(REFERENCE_DAY.atStartOfDay(), zone);
        return new IntervalFireSource(anchor, every * unitSeconds);
    }

    @Override
    public Optional<Instant> nextAfter(Instant after) {
        // Duration seconds are floored (its nanos are never negative), so anchor + k * period is
        // at or before `after` and the next multiple is strictly after it.
        long k = Math.floorDiv(Duration.between(anchor, after).getSeconds(), periodSeconds);
        return Optional.of(anchor.plusSeconds((k + 1) * periodSeconds));
    }
}
