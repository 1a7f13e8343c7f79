package io.cloudtask.agent.policy;

import java.time.Duration;
import java.util.Objects;
import java.util.function.DoubleSupplier;

/**
 * Delay before the next attempt of a failed fire: exponential backoff (factor 2) from an initial
 * ceiling, capped, with full jitter (a uniformly random delay in [0, ceiling]) so that the retries
 * of many tasks failing together do not hit a shared dependency in step. Pure: the random source
 * is injected. Stateless and thread-safe (if the random source is).
 */
public final class RetryDelays {
    private final Duration initial;
    private final Duration max;
    private final DoubleSupplier random;

    /**
     * @param random returns a value in [0, 1]; 1 always gives the ceiling (useful in tests)
     */
    public RetryDelays(Duration initial, Duration max, DoubleSupplier random) {
        this.initial = Objects.requireNonNull(initial, "initial");
        this.max = Objects.requireNonNull(max, "max");
        this.random = Objects.requireNonNull(random, "random");
        if (initial.isNegative() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("need 0 <= initial <= max, got " + initial + " and " + max);
        }
    }

    /** The ceiling after the given failed attempt (1-based): initial × 2^(attempt-1), at most max. */
    public Duration ceiling(int failedAttempt) {
        if (failedAttempt < 1) {
            throw new IllegalArgumentException("attempts start at 1, was " + failedAttempt);
        }
        // Doubling past 62 overflows; any such ceiling is beyond every sane cap anyway.
        int doublings = Math.min(failedAttempt - 1, 62);
        long nanos = initial.toNanos();
        for (int i = 0; i < doublings && nanos < max.toNanos(); i++) {
            nanos = nanos > Long.MAX_VALUE / 2 ? Long.MAX_VALUE : nanos * 2;
        }
        return Duration.ofNanos(Math.min(nanos, max.toNanos()));
    }

    /** The delay before the attempt after {@code failedAttempt}: uniform in [0, ceiling]. */
    public Duration delay(int failedAttempt) {
        double r = random.getAsDouble();
        if (r < 0 || r > 1 || Double.isNaN(r)) {
            throw new IllegalStateException("random source returned " + r + ", outside [0, 1]");
        }
        return Duration.ofNanos(Math.round(ceiling(failedAttempt).toNanos() * r));
    }
}
