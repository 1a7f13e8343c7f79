package io.cloudtask.schedule;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.Optional;

/**
 * A schedule kind defined in local (wall-clock) time: cron, daily, weekly, monthly. Subclasses
 * only say which local date-times match; the daylight saving rules live in {@link WallClock}, so
 * all calendar kinds treat a switch the same way.
 */
abstract class LocalTimeFireSource implements FireSource {
    private final ZoneId zone;

    LocalTimeFireSource(ZoneId zone) {
        this.zone = zone;
    }

    /**
     * The first matching local date-time strictly after {@code local}, or empty if there is none.
     * Implementations bound their search (they never loop without limit).
     */
    abstract Optional<LocalDateTime> nextLocalAfter(LocalDateTime local);

    @Override
    public final Optional<Instant> nextAfter(Instant after) {
        // One search suffices: resolve() is monotonic, so the first local match after the search
        // start resolves to the first instant after `after` (several gap times resolve to the same
        // instant, and that instant fires once).
        return nextLocalAfter(WallClock.searchStart(after, zone)).map(local -> WallClock.resolve(local, zone));
    }
}
