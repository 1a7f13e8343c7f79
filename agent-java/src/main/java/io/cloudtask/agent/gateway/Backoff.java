package io.cloudtask.agent.gateway;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with full jitter: after the n-th consecutive failure wait a uniformly random
 * time in [0, min(max, initial × 2^(n-1))]. Full jitter spreads the reconnects of a whole fleet
 * after a control-plane restart instead of synchronising them. Immutable and thread-safe.
 */
public record Backoff(Duration initial, Duration max) {
    public Backoff {
        Objects.requireNonNull(initial, "initial");
        Objects.requireNonNull(max, "max");
        if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("need 0 < initial <= max, got " + initial + " and " + max);
        }
    }

    /** The upper bound of the delay after {@code failures} consecutive failures (at least 1). */
    public Duration ceiling(int failures) {
        int doublings = Math.max(0, Math.min(failures - 1, 30));
        long millis = initial.toMillis() << doublings;
        return millis <= 0 || millis >= max.toMillis() ? max : Duration.ofMillis(millis);
    }

    /** A delay drawn uniformly from [0, ceiling(failures)]. */
    public Duration delay(int failures, RandomGenerator random) {
        return Duration.ofMillis(random.nextLong(ceiling(failures).toMillis() + 1));
    }
}
