package io.cloudtask.agent.claim;

import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.schedule.Timestamps;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Strict delivery on the agent: sends a {@code FireClaim} for a fire and completes when the
 * control plane answers. A claim stays pending until answered: it is sent again on every new
 * stream, since the control plane may have granted it and lost the answer (it grants the holder
 * again). Claims pending longer than {@link #ABANDON_AFTER}, or beyond {@link #MAX_PENDING}, are
 * abandoned: their futures fail with {@link ClaimAbandonedException} and the fire does not run.
 * Thread-safe.
 */
public final class FireClaimer {
    /** Beyond this a fire is history, not something to start. */
    public static final Duration ABANDON_AFTER = Duration.ofHours(1);
    /** Bounds memory while the control plane is unreachable and strict fires keep coming. */
    public static final int MAX_PENDING = 100_000;
    private static final Logger log = LoggerFactory.getLogger(FireClaimer.class);

    /** Why a claim got no answer. */
    public static final class ClaimAbandonedException extends RuntimeException {
        ClaimAbandonedException(String message) {
            super(message);
        }
    }

    private record Pending(FireClaim claim, Instant askedAt, CompletableFuture<ClaimAnswer> answer) {}

    private final Consumer<FireClaim> sender;
    private final Clock clock;
    private final Map<Long, Pending> pending = new LinkedHashMap<>();
    private long nextClaimId;

    /** @param sender puts a claim on the current stream, or drops it when there is none (never blocks) */
    public FireClaimer(Consumer<FireClaim> sender, Clock clock) {
        this.sender = Objects.requireNonNull(sender, "sender");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Claims a fire; the future completes with the control plane's answer. */
    public CompletableFuture<ClaimAnswer> claim(String taskId, Instant fireTime, long specVersion, boolean broadcast) {
        CompletableFuture<ClaimAnswer> answer = new CompletableFuture<>();
        FireClaim claim;
        List<Pending> abandoned;
        synchronized (this) {
            abandoned = abandonOld();
            if (pending.size() >= MAX_PENDING) {
                abandoned.add(pending.remove(pending.keySet().iterator().next()));
            }
            claim = FireClaim.newBuilder().setClaimId(++nextClaimId).setTaskId(taskId)
                    .setFireTime(Timestamps.of(fireTime)).setSpecVersion(specVersion).setBroadcast(broadcast).build();
            pending.put(claim.getClaimId(), new Pending(claim, clock.instant(), answer));
        }
        fail(abandoned);
        sender.accept(claim);
        return answer;
    }

    /** The control plane's answer; an answer to no pending claim (a duplicate) is ignored. */
    public void onAnswer(ClaimAnswer answer) {
        Pending claimed;
        synchronized (this) {
            claimed = pending.remove(answer.getClaimId());
        }
        if (claimed != null) {
            claimed.answer().complete(answer);
        }
    }

    /** Sends every pending claim again (a new stream is welcomed). */
    public void resendPending() {
        List<FireClaim> again = new ArrayList<>();
        List<Pending> abandoned;
        synchronized (this) {
            abandoned = abandonOld();
            pending.values().forEach(p -> again.add(p.claim()));
        }
        fail(abandoned);
        if (!again.isEmpty()) {
            log.info("sending {} unanswered fire claim(s) again", again.size());
        }
        again.forEach(sender);
    }

    /** Claims sent and not answered yet. */
    public synchronized int pendingCount() {
        return pending.size();
    }

    private List<Pending> abandonOld() {
        List<Pending> abandoned = new ArrayList<>();
        Instant horizon = clock.instant().minus(ABANDON_AFTER);
        for (Iterator<Pending> it = pending.values().iterator(); it.hasNext(); ) {
            Pending p = it.next();
            // Insertion order is ask order: the first young one ends the scan.
            if (!p.askedAt().isBefore(horizon)) {
                break;
            }
            abandoned.add(p);
            it.remove();
        }
        return abandoned;
    }

    private static void fail(List<Pending> abandoned) {
        for (Pending p : abandoned) {
            p.answer().completeExceptionally(new ClaimAbandonedException("no answer to the claim of fire "
                    + Timestamps.toInstant(p.claim().getFireTime()) + " of task " + p.claim().getTaskId()
                    + " since " + p.askedAt()));
        }
    }
}
