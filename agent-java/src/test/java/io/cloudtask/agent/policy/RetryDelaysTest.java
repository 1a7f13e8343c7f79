package io.cloudtask.agent.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RetryDelaysTest {
    private static final Duration TEN_S = Duration.ofSeconds(10);
    private static final Duration FIVE_MIN = Duration.ofMinutes(5);

    @Test
    void theCeilingDoublesPerAttemptUpToTheCap() {
        RetryDelays delays = new RetryDelays(TEN_S, FIVE_MIN, () -> 1.0);

        List<Duration> ceilings = new ArrayList<>();
        for (int attempt = 1; attempt <= 7; attempt++) {
            ceilings.add(delays.ceiling(attempt));
        }

        assertThat(ceilings).containsExactly(Duration.ofSeconds(10), Duration.ofSeconds(20), Duration.ofSeconds(40),
                Duration.ofSeconds(80), Duration.ofSeconds(160), FIVE_MIN, FIVE_MIN);
    }

    @Test
    void fullJitterScalesTheCeilingByTheRandomValue() {
        assertThat(new RetryDelays(TEN_S, FIVE_MIN, () -> 0.0).delay(3)).isEqualTo(Duration.ZERO);
        assertThat(new RetryDelays(TEN_S, FIVE_MIN, () -> 0.5).delay(3)).isEqualTo(Duration.ofSeconds(20));
        assertThat(new RetryDelays(TEN_S, FIVE_MIN, () -> 1.0).delay(3)).isEqualTo(Duration.ofSeconds(40));
    }

    @Test
    void delaysStayWithinZeroAndTheCeilingForAnyRandomValue() {
        Random random = new Random(42);
        RetryDelays delays = new RetryDelays(TEN_S, FIVE_MIN, random::nextDouble);

        for (int attempt = 1; attempt <= 100; attempt++) {
            assertThat(delays.delay(attempt)).isBetween(Duration.ZERO, delays.ceiling(attempt));
        }
    }

    @Test
    void aHugeAttemptNumberDoesNotOverflow() {
        RetryDelays delays = new RetryDelays(Duration.ofDays(1), Duration.ofDays(1), () -> 1.0);

        assertThat(delays.ceiling(Integer.MAX_VALUE)).isEqualTo(Duration.ofDays(1));
    }

    @Test
    void rejectsARandomSourceOutsideTheUnitInterval() {
        assertThatThrownBy(() -> new RetryDelays(TEN_S, FIVE_MIN, () -> 1.5).delay(1))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> new RetryDelays(FIVE_MIN, TEN_S, () -> 1.0))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
