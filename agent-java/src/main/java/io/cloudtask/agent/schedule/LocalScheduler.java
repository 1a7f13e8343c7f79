package io.cloudtask.agent.schedule;

import io.cloudtask.proto.v1.TaskSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fires the agent's tasks on the agent's own clock: one timer thread ({@code cloudtask-timer})
 * waits on a condition until the {@link FirePlan}'s next deadline and is woken early whenever the
 * plan changes or firing is stopped or resumed.
 *
 * <p>Thread-safe. The fire handler is called on the timer thread, under the scheduler's lock, so it
 * must only hand the fire off (never block); because of that lock, once {@link #stopFiring}
 * returns no further fire is handed off until {@link #resumeFiring}. The scheduler starts stopped:
 * the fencing policy resumes it once ZooKeeper is connected and the allocation has been read.
 */
public final class LocalScheduler implements FiringSwitch, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalScheduler.class);

    /**
     * Longest single wait. The condition waits on the monotonic clock while deadlines are wall-clock
     * instants; re-reading the clock this often bounds the lateness a wall-clock step can cause.
     */
    private static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final Clock clock;
    private final Consumer<Fire> handler;
    private final FirePlan plan;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Thread timer;

    /** Told (on the timer thread, must not block) that the timer woke far later than planned. */
    @FunctionalInterface
    public interface PauseListener {
        void paused(Duration lateBy);
    }

    private volatile PauseListener pauseListener;
    private volatile long pauseThresholdNanos = Long.MAX_VALUE;

    // Guarded by lock.
    private boolean firing;
    /** When the current wait should end (monotonic), or MAX_VALUE while waiting without a deadline. */
    private long expectedWakeNanos = Long.MAX_VALUE;
    private boolean closed;
    private boolean started;

    /**
     * @param handler receives each fire on the timer thread; must not block (hand off to an executor)
     */
    public LocalScheduler(Clock clock, Consumer<Fire> handler) {
        this(clock, handler, FireMarkers.inMemory());
    }

    /**
     * @param markers where each task's last handled fire is kept, so missed fires are found after a
     *     restart (read in {@link #start})
     */
    public LocalScheduler(Clock clock, Consumer<Fire> handler, FireMarkers markers) {
        this.plan = new FirePlan(Objects.requireNonNull(markers, "markers"));
        this.clock = Objects.requireNonNull(clock, "clock");
        this.handler = Objects.requireNonNull(handler, "handler");
        this.timer = new Thread(this::runLoop, "cloudtask-timer");
        this.timer.setDaemon(true);
    }

    /**
     * Watches for the process having been paused (SIGSTOP, a long GC or VM freeze): when the timer
     * wakes more than {@code threshold} after it planned to, it stops firing before handing off
     * anything and tells {@code listener}, which must confirm the ZooKeeper session and resume.
     * During such a pause the session may have expired and the tasks moved, while the ZooKeeper
     * client, paused too, has not noticed yet. Call before {@link #start}.
     */
    public void onPause(Duration threshold, PauseListener listener) {
        this.pauseThresholdNanos = threshold.toNanos();
        this.pauseListener = Objects.requireNonNull(listener, "listener");
    }

    /** Starts the timer thread. Firing begins only after {@link #resumeFiring}. */
    public void start() {
        lock.lock();
        try {
            if (started) {
                throw new IllegalStateException("scheduler already started");
            }
            started = true;
            plan.loadMarkers();
        } finally {
            lock.unlock();
        }
        timer.start();
    }

    /** Replaces the set of fireable tasks (task id → spec); see {@link FirePlan#update}. */
    public void update(Map<String, TaskSpec> specs) {
        update(specs, Map.of());
    }

    /**
     * Replaces the set of fireable tasks, with where each newly held task's hand-over gap starts;
     * see {@link FirePlan#update(Map, Map, Instant)}.
     */
    public void update(Map<String, TaskSpec> specs, Map<String, Instant> handOverFrom) {
        lock.lock();
        try {
            List<FirePlan.Rejected> rejected = plan.update(specs, handOverFrom, clock.instant());
            for (FirePlan.Rejected r : rejected) {
                log.warn("task {} version {} does not fire: {}: {}", r.taskId(), r.specVersion(), r.field(), r.reason());
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void stopFiring(String reason) {
        lock.lock();
        try {
            if (firing) {
                log.warn("stopped firing: {}", reason);
            }
            firing = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void resumeFiring() {
        lock.lock();
        try {
            if (!firing && !closed) {
                plan.rebase(clock.instant());
                firing = true;
                log.info("firing {} task(s)", plan.taskIds().size());
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether fires may currently start. */
    public boolean isFiring() {
        lock.lock();
        try {
            return firing;
        } finally {
            lock.unlock();
        }
    }

    /** The tasks the scheduler currently holds (paused ones included). */
    public Set<String> taskIds() {
        lock.lock();
        try {
            return plan.taskIds();
        } finally {
            lock.unlock();
        }
    }

    /** The next fire of one task, if it is held and will fire. */
    public Optional<Instant> nextFire(String taskId) {
        lock.lock();
        try {
            return plan.nextFire(taskId);
        } finally {
            lock.unlock();
        }
    }

    /** Stops firing for good and ends the timer thread. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            firing = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (timer.isAlive() && Thread.currentThread() != timer) {
            try {
                timer.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void runLoop() {
        lock.lock();
        try {
            while (!closed) {
                try {
                    step();
                } catch (InterruptedException e) {
                    log.warn("timer thread interrupted; no more fires will start");
                    return;
                } catch (RuntimeException e) {
                    // A failed hand-off or a schedule bug must not end all firing: log and carry on.
                    log.error("timer step failed; continuing", e);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** One wait-or-fire step; called with the lock held. */
    private void step() throws InterruptedException {
        if (!firing) {
            expectedWakeNanos = Long.MAX_VALUE;
            changed.await();
            return;
        }
        long nowNanos = System.nanoTime();
        PauseListener listener = pauseListener;
        if (listener != null && expectedWakeNanos != Long.MAX_VALUE && nowNanos - expectedWakeNanos > pauseThresholdNanos) {
            Duration lateBy = Duration.ofNanos(nowNanos - expectedWakeNanos);
            firing = false;
            expectedWakeNanos = Long.MAX_VALUE;
            log.warn("timer woke {} ms late (was the process paused?); not firing until the ZooKeeper session"
                    + " is confirmed", lateBy.toMillis());
            listener.paused(lateBy);
            return;
        }
        Optional<Instant> deadline = plan.nextDeadline();
        if (deadline.isEmpty()) {
            expectedWakeNanos = Long.MAX_VALUE;
            changed.await();
            return;
        }
        Instant now = clock.instant();
        Duration wait = Duration.between(now, deadline.get());
        if (!wait.isNegative() && !wait.isZero()) {
            long nanos = wait.compareTo(Duration.ofNanos(MAX_WAIT_NANOS)) > 0 ? MAX_WAIT_NANOS : wait.toNanos();
            expectedWakeNanos = nowNanos + nanos;
            changed.awaitNanos(nanos);
            return;
        }
        expectedWakeNanos = nowNanos;
        for (Fire fire : plan.due(now)) {
            try {
                handler.accept(fire);
            } catch (RuntimeException e) {
                log.error("could not hand off fire of task {} at {}", fire.taskId(), fire.fireTime(), e);
            }
        }
    }
}
