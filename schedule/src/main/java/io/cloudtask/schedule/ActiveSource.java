package io.cloudtask.schedule;

import java.time.Instant;
import java.time.ZoneId;
import java.util.Optional;

/**
 * One schedule's fires limited to its active range [from, until) and its daily window. Either
 * bound and the window may be absent (null).
 */
record ActiveSource(FireSource source, Instant from, Instant until, TimeWindow window, ZoneId zone) {
    /**
     * How many fires outside the window one search skips before it gives up. Each skip jumps to
     * the window's next opening, so consecutive skips are at least a day apart and this covers
     * about three years of daily fires; a valid schedule needs a handful. The bound keeps the
     * never-fire check of {@link TaskSchedule} (where the whole bound is spent before rejecting)
     * under a second even for cron, whose cron-utils search costs up to a few hundred
     * microseconds per fire.
     */
    static final int MAX_FIRES_OUTSIDE_WINDOW = 1_000;

    Optional<Instant> nextAfter(Instant after) {
        Instant cursor = after;
        if (from != null && cursor.isBefore(from)) {
            // Fires exactly at `from` count: start the search just before it.
            cursor = from.minusNanos(1);
        }
        for (int skipped = 0; skipped <= MAX_FIRES_OUTSIDE_WINDOW; skipped++) {
            Optional<Instant> next = source.nextAfter(cursor);
            if (next.isEmpty() || until != null && !next.get().isBefore(until)) {
                return Optional.empty();
            }
            Instant candidate = next.get();
            if (window == null || window.contains(candidate, zone)) {
                return next;
            }
            // Jump to just before the window opens again (never behind the candidate).
            Instant beforeOpening = window.firstInstantInside(candidate, zone).minusNanos(1);
            cursor = beforeOpening.isAfter(candidate) ? beforeOpening : candidate;
        }
        return Optional.empty();
    }
}
