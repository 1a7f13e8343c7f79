package io.cloudtask.schedule;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;
import java.util.List;

/**
 * The one place that turns local (wall-clock) times into instants, so every calendar kind follows
 * the same daylight saving rules:
 * <ul>
 *   <li>a local time in a spring-forward gap fires at the first instant after the gap (02:30 on
 *       the day Berlin skips 02:00-03:00 fires at 03:00 CEST). {@code java.time}'s own default
 *       would shift by the gap's length (03:30), which lands on no time the operator wrote;
 *   <li>a local time repeated in a fall-back overlap fires once, at its first occurrence (the
 *       earlier offset).
 * </ul>
 * These rules make the local-to-instant mapping monotonic (never decreasing), which is what lets
 * {@link LocalTimeFireSource} find the next fire with one search instead of a loop.
 */
final class WallClock {
    private WallClock() {}

    /** The instant a local fire time fires at, by the rules above. */
    static Instant resolve(LocalDateTime local, ZoneId zone) {
        ZoneRules rules = zone.getRules();
        List<ZoneOffset> offsets = rules.getValidOffsets(local);
        if (offsets.isEmpty()) {
            return rules.getTransition(local).getInstant();
        }
        // For an overlap the list is [offset before, offset after]: the first is the earlier instant.
        return local.toInstant(offsets.get(0));
    }

    /**
     * The local time after which the next local fire time must be searched so that its instant is
     * strictly after {@code after}. Normally that is the local time of {@code after}; in the second
     * pass of a fall-back overlap every local time up to the end of the overlap already had its
     * (only) fire in the first pass, so the search starts at the end of the overlap.
     */
    static LocalDateTime searchStart(Instant after, ZoneId zone) {
        ZoneRules rules = zone.getRules();
        LocalDateTime local = LocalDateTime.ofInstant(after, zone);
        ZoneOffsetTransition transition = rules.getTransition(local);
        if (transition != null && transition.isOverlap()
                && rules.getOffset(after).equals(transition.getOffsetAfter())) {
            // The overlap's local times are [dateTimeAfter, dateTimeBefore); its end may fire.
            return transition.getDateTimeBefore().minusNanos(1);
        }
        return local;
    }
}
