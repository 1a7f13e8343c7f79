package io.cloudtask.agent.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BackoffTest {
    private final Backoff backoff = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(10));

    @Test
    void theCeilingDoublesFromTheInitialDelayUpToTheMaximum() {
        assertThat(backoff.ceiling(1)).isEqualTo(Duration.ofMillis(200));
        assertThat(backoff.ceiling(2)).isEqualTo(Duration.ofMillis(400));
        assertThat(backoff.ceiling(6)).isEqualTo(Duration.ofMillis(6400));
        assertThat(backoff.ceiling(7)).isEqualTo(Duration.ofSeconds(10));
        assertThat(backoff.ceiling(1_000)).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void fullJitterDrawsBetweenZeroAndTheCeiling() {
        SplittableRandom random = new SplittableRandom(42);
        long min = Long.MAX_VALUE;
        long max = 0;
        for (int i = 0; i < 2_000; i++) {
            long delay = backoff.delay(3, random).toMillis();
            min = Math.min(min, delay);
            max = Math.max(max, delay);
        }
        assertThat(min).isBetween(0L, 40L);
        assertThat(max).isBetween(760L, 800L);
    }

    @Test
    void onlyCallerAdmissionAndDuplicateAgentErrorsAreNotRetryable() {
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.UNAVAILABLE)).isTrue();
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.CANCELLED)).isTrue();
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.INVALID_ARGUMENT)).isFalse();
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.FAILED_PRECONDITION)).isFalse();
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.PERMISSION_DENIED)).isFalse();
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.UNAUTHENTICATED)).isFalse();
        assertThat(RetryableStatus.isRetryable(io.grpc.Status.Code.ABORTED)).isFalse();
    }
}
