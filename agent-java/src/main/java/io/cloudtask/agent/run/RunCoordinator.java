package io.cloudtask.agent.run;

import io.cloudtask.agent.policy.OverlapDecider;
import io.cloudtask.agent.policy.RetryDelays;
import io.cloudtask.agent.policy.TaskPolicy;
import io.cloudtask.agent.schedule.Fire;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.RunStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a task's overlap and retry policies between the scheduler and the {@link ProcessRunner}:
 * a fire starts, waits in the task's queue, is reported SKIPPED, or replaces (kills) the running
 * fire; a FAILED or TIMED_OUT attempt is retried after a backoff delay, a KILLED one never. Missed
 * fires the misfire policy does not run are reported MISSED. The decisions themselves are the pure
 * {@link OverlapDecider} and {@link RetryDelays}.
 *
 * <p>Thread-safe by confinement: every state change happens on its one {@code cloudtask-runs}
 * thread. {@link #fire} (timer thread) and the runner's finish callbacks (run supervisor threads)
 * only enqueue work there, so neither ever blocks on a policy; retry delays are timers of that
 * same thread.
 */
public final class RunCoordinator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RunCoordinator.class);

    /**
     * A strict fire whose claim is granted later than this after it was asked for does not start:
     * it is reported MISSED (the agent holds the claim, so no other agent runs it either).
     */
    public static final Duration CLAIM_DEADLINE = Duration.ofSeconds(10);

    private final String agentId;
    private final ProcessRunner runner;
    private final DoubleSupplier random;
    private final StrictFireGate strictFires;
    private final Clock clock;
    private final ScheduledExecutorService executor;
    // Confined to the executor thread.
    private final Map<String, TaskRuns> tasks = new HashMap<>();

    /**
     * @param agentId this agent's id: part of the identity of its copy of a broadcast fire
     * @param random the jitter source of retry delays, values in [0, 1]
     * @param strictFires where fires of strict tasks claim the right to start
     */
    public RunCoordinator(String agentId, ProcessRunner runner, DoubleSupplier random, StrictFireGate strictFires,
            Clock clock) {
        this.agentId = Objects.requireNonNull(agentId, "agentId");
        this.runner = Objects.requireNonNull(runner, "runner");
        this.random = Objects.requireNonNull(random, "random");
        this.strictFires = Objects.requireNonNull(strictFires, "strictFires");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "cloudtask-runs");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Hands a fire over; never blocks. */
    public void fire(Fire fire) {
        onThread(() -> onFire(fire), "fire of task " + fire.taskId() + " at " + fire.fireTime());
    }

    /**
     * Hands over a run asked for by a command; the task's overlap policy applies as to any fire.
     * Never blocks.
     */
    public void runNow(RunRequest request) {
        onThread(() -> decide(request), "manual run " + request.runId() + " of task " + request.taskId());
    }

    /**
     * Kills a running run's process tree; it ends KILLED with {@code reason} and is not retried.
     *
     * @return completes with whether the run was running here (false: unknown or already ended)
     */
    public CompletableFuture<Boolean> kill(String runId, String reason) {
        CompletableFuture<Boolean> found = new CompletableFuture<>();
        onThread(() -> found.complete(killRunning(runId, reason)), "kill of run " + runId);
        if (executor.isShutdown()) {
            found.complete(false);
        }
        return found;
    }

    /** Stops starting runs and retries; runs in flight finish on their own. */
    @Override
    public void close() {
        executor.shutdownNow();
    }

    private void onFire(Fire fire) {
        RunRequest request = RunRequest.scheduled(fire.spec(), fire.fireTime(), agentId);
        if (fire.kind() == Fire.Kind.HAND_OVER && !fire.spec().getStrict()) {
            runner.reportProvisionallyMissedLater(request, "not run: the fire fell in the gap before this agent held the"
                    + " task (it was being assigned, or moving here from another agent); replaced by the report of an"
                    + " agent that ran it");
            return;
        }
        if (fire.spec().getStrict()) {
            Instant askedAt = clock.instant();
            strictFires.claim(request).whenComplete((answer, failure) -> onThread(
                    () -> afterClaim(fire, request, askedAt, answer, failure), "claim answer for " + request.runId()));
            return;
        }
        proceed(fire, request);
    }

    /**
     * Strict delivery: only the holder of a fire's claim runs it, or reports it MISSED; an agent
     * denied the claim records nothing (the holder does), so a fire is never recorded twice.
     */
    private void afterClaim(Fire fire, RunRequest request, Instant askedAt, ClaimAnswer answer, Throwable failure) {
        if (failure != null) {
            log.warn("task {} fire {} not started: {}", request.taskId(), request.fireTime(), failure.getMessage());
            return;
        }
        if (!answer.getGranted()) {
            log.info("task {} fire {} not started here: {}", request.taskId(), request.fireTime(), answer.getReason());
            return;
        }
        Duration waited = Duration.between(askedAt, clock.instant());
        boolean runs = fire.kind() != Fire.Kind.MISSED && fire.kind() != Fire.Kind.HAND_OVER;
        if (runs && waited.compareTo(CLAIM_DEADLINE) > 0) {
            runner.reportNotRunLater(request, RunStatus.RUN_STATUS_MISSED, "strict delivery: the claim was granted "
                    + waited.toMillis() + " ms after it was asked for, later than the " + CLAIM_DEADLINE.toSeconds()
                    + " s deadline (was the control plane unreachable?)");
            return;
        }
        proceed(fire, request);
    }

    private void proceed(Fire fire, RunRequest request) {
        if (fire.kind() == Fire.Kind.HAND_OVER) {
            // A strict task's gap fire whose claim this agent holds: nobody ran it.
            runner.reportNotRunLater(request, RunStatus.RUN_STATUS_MISSED, "strict delivery: the fire fell in the gap"
                    + " before this agent held the task (it was being assigned, or moving here), and no agent had"
                    + " claimed it");
            return;
        }
        if (fire.kind() == Fire.Kind.MISSED) {
            runner.reportNotRunLater(request, RunStatus.RUN_STATUS_MISSED,
                    "missed while the agent was down or not firing; misfire policy " + TaskPolicy.of(fire.spec()).misfire());
            return;
        }
        decide(request);
    }

    private boolean killRunning(String runId, String reason) {
        for (TaskRuns runs : tasks.values()) {
            for (Active active : runs.inFlight) {
                if (active.handle != null && active.request.runId().equals(runId)) {
                    active.handle.kill(reason);
                    return true;
                }
            }
        }
        return false;
    }

    /** Applies the task's overlap policy to a run that is due. */
    private void decide(RunRequest request) {
        TaskPolicy policy = TaskPolicy.of(request.spec());
        TaskRuns runs = tasks.computeIfAbsent(request.taskId(), TaskRuns::new);
        List<OverlapDecider.InFlight> inFlight = runs.inFlight.stream()
                .map(a -> new OverlapDecider.InFlight(a.request.runId(), a.request.fireTime())).toList();
        OverlapDecider.Decision decision = OverlapDecider.decide(policy, inFlight, runs.queue.size(), request.fireTime());
        if (decision instanceof OverlapDecider.Start) {
            start(runs, request);
        } else if (decision instanceof OverlapDecider.Enqueue) {
            runs.queue.add(request);
        } else if (decision instanceof OverlapDecider.Skip skip) {
            runner.reportNotRunLater(request, RunStatus.RUN_STATUS_SKIPPED, skip.reason());
        } else if (decision instanceof OverlapDecider.Replace replace) {
            replace(runs, request, replace.error());
        }
    }

    private void replace(TaskRuns runs, RunRequest request, String error) {
        for (Active active : List.copyOf(runs.inFlight)) {
            if (active.handle != null) {
                active.handle.kill(error);
            } else {
                // Waiting for a retry: nothing runs, so the fire simply ends here.
                active.retry.cancel(false);
                runs.inFlight.remove(active);
                log.info("task {} fire {}: retry cancelled, {}", request.taskId(), active.request.fireTime(), error);
            }
        }
        if (runs.replacement != null) {
            runner.reportNotRunLater(runs.replacement, RunStatus.RUN_STATUS_SKIPPED, error);
        }
        runs.replacement = request;
        startNext(runs);
    }

    private void start(TaskRuns runs, RunRequest request) {
        Active active = new Active(request);
        runs.inFlight.add(active);
        active.handle = runner.submit(request, finishListener(runs, active));
        if (active.handle == null) {
            runs.inFlight.remove(active);
        }
    }

    private RunListener finishListener(TaskRuns runs, Active active) {
        return (request, status) -> onThread(() -> onFinished(runs, active, status), "end of run " + request.runId());
    }

    private void onFinished(TaskRuns runs, Active active, RunStatus status) {
        RunRequest done = active.request;
        TaskPolicy policy = TaskPolicy.of(done.spec());
        boolean retryable = status == RunStatus.RUN_STATUS_FAILED || status == RunStatus.RUN_STATUS_TIMED_OUT;
        if (retryable && done.attempt() < policy.maxAttempts() && !executor.isShutdown()) {
            Duration delay = new RetryDelays(policy.retryInitialDelay(), policy.retryMaxDelay(), random).delay(done.attempt());
            RunRequest next = done.nextAttempt();
            log.info("task {} fire {} attempt {} ended {}; attempt {} in {}", done.taskId(), done.fireTime(), done.attempt(),
                    status, next.attempt(), delay);
            active.request = next;
            active.handle = null;
            active.retry = executor.schedule(() -> guarded(() -> retry(runs, active)), delay.toNanos(), TimeUnit.NANOSECONDS);
            return;
        }
        runs.inFlight.remove(active);
        startNext(runs);
    }

    private void retry(TaskRuns runs, Active active) {
        if (!runs.inFlight.contains(active)) {
            return;
        }
        active.retry = null;
        active.handle = runner.submit(active.request, finishListener(runs, active));
        if (active.handle == null) {
            runs.inFlight.remove(active);
        }
    }

    /** A replacing fire starts once the replaced ones are gone; a queued one once nothing runs. */
    private void startNext(TaskRuns runs) {
        if (!runs.inFlight.isEmpty()) {
            return;
        }
        if (runs.replacement != null) {
            RunRequest next = runs.replacement;
            runs.replacement = null;
            start(runs, next);
        } else if (!runs.queue.isEmpty()) {
            start(runs, runs.queue.poll());
        }
        if (runs.inFlight.isEmpty() && runs.queue.isEmpty() && runs.replacement == null) {
            // Nothing to remember: keeps the map bounded by the tasks that are busy, not by task churn.
            tasks.remove(runs.taskId, runs);
        }
    }

    /** Hands work to the coordinator thread; after close there is nothing left to decide. */
    private void onThread(Runnable work, String what) {
        try {
            executor.execute(() -> guarded(work));
        } catch (RejectedExecutionException e) {
            log.info("ignoring the {}: the agent is stopping", what);
        }
    }

    private static void guarded(Runnable work) {
        try {
            work.run();
        } catch (RuntimeException e) {
            // One task's failure (say a full disk while journaling a SKIPPED) must not stop the others.
            log.error("run policy step failed", e);
        }
    }

    private static final class TaskRuns {
        final String taskId;
        final List<Active> inFlight = new ArrayList<>();
        final Deque<RunRequest> queue = new ArrayDeque<>();
        RunRequest replacement;

        TaskRuns(String taskId) {
            this.taskId = taskId;
        }
    }

    /** A fire that has not ended: running (handle set) or waiting for its next attempt (retry set). */
    private static final class Active {
        RunRequest request;
        RunHandle handle;
        ScheduledFuture<?> retry;

        Active(RunRequest request) {
            this.request = request;
        }
    }
}
