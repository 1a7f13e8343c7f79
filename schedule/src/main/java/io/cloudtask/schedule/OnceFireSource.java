package io.cloudtask.schedule;

import java.time.Instant;
import java.util.Optional;

/** One instant. Needs no time zone; a past instant is valid and simply never fires again. */
record OnceFireSource(Instant at) implements FireSource {
    @Override
    public Optional<Instant> nextAfter(Instant after) {
        return at.isAfter(after) ? Optional.of(at) : Optional.empty();
    }
}
