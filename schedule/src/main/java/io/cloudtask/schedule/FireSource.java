package io.cloudtask.schedule;

import java.time.Instant;
import java.util.Optional;

/** One schedule kind's fire times. Implementations are immutable and thread-safe. */
interface FireSource {
    /** The first fire time strictly after {@code after}, or empty if the schedule never fires again. */
    Optional<Instant> nextAfter(Instant after);
}
