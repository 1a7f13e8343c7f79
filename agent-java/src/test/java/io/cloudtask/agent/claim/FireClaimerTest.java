package io.cloudtask.agent.claim;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.MutableClock;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.schedule.Timestamps;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class FireClaimerTest {
    private static final Instant FIRE = Instant.parse("2030-01-01T00:00:00Z");

    private final MutableClock clock = new MutableClock(FIRE);
    private final List<FireClaim> sent = new CopyOnWriteArrayList<>();
    private final FireClaimer claimer = new FireClaimer(sent::add, clock);

    @Test
    void sendsTheClaimAndCompletesWithItsAnswerOnce() {
        CompletableFuture<ClaimAnswer> answer = claimer.claim("t", FIRE, 3, true);

        FireClaim claim = sent.get(0);
        assertThat(claim.getTaskId()).isEqualTo("t");
        assertThat(Timestamps.toInstant(claim.getFireTime())).isEqualTo(FIRE);
        assertThat(claim.getSpecVersion()).isEqualTo(3);
        assertThat(claim.getBroadcast()).isTrue();
        claimer.onAnswer(ClaimAnswer.newBuilder().setClaimId(claim.getClaimId()).setGranted(true).build());
        claimer.onAnswer(ClaimAnswer.newBuilder().setClaimId(claim.getClaimId()).setGranted(false).build());

        assertThat(answer.join().getGranted()).isTrue();
        assertThat(claimer.pendingCount()).isZero();
    }

    @Test
    void unansweredClaimsAreSentAgainOnANewStream() {
        claimer.claim("a", FIRE, 1, false);
        CompletableFuture<ClaimAnswer> second = claimer.claim("b", FIRE, 1, false);
        claimer.onAnswer(ClaimAnswer.newBuilder().setClaimId(sent.get(0).getClaimId()).setGranted(true).build());

        claimer.resendPending();

        assertThat(sent).hasSize(3);
        assertThat(sent.get(2)).isEqualTo(sent.get(1));
        assertThat(second).isNotDone();
    }

    @Test
    void claimsUnansweredForAnHourAreAbandoned() {
        CompletableFuture<ClaimAnswer> old = claimer.claim("a", FIRE, 1, false);
        clock.advance(FireClaimer.ABANDON_AFTER.plus(Duration.ofSeconds(1)));
        CompletableFuture<ClaimAnswer> young = claimer.claim("b", FIRE.plusSeconds(1), 1, false);

        assertThat(old).isCompletedExceptionally();
        assertThat(young).isNotDone();
        assertThat(claimer.pendingCount()).isEqualTo(1);
    }
}
