package io.cloudtask.agent.membership;

import io.cloudtask.agent.schedule.FiringSwitch;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the agent does when its ZooKeeper connection changes, decided once, here:
 *
 * <ul>
 *   <li><b>SUSPENDED, LOST, READ_ONLY</b>: stop firing at once. Runs in flight continue. While the
 *       session may be expiring, the allocator may already have given this agent's tasks to another
 *       agent, and firing them here could run one fire twice.</li>
 *   <li><b>CONNECTED, RECONNECTED</b>: re-read the allocation node fully (watch events may have been
 *       missed), reconcile, and only then resume firing.</li>
 *   <li><b>The process was paused</b> (the scheduler woke far later than planned): the ZooKeeper
 *       client may not have noticed yet that the session expired and the tasks moved. Firing
 *       stays stopped until a round trip to ZooKeeper confirms that this session still owns the
 *       agent's node; then the allocation is re-read and firing resumes. If the session is gone,
 *       the agent stays fenced until ZooKeeper reports the new connection.</li>
 * </ul>
 *
 * <p>Thread-safe. Curator calls {@link #stateChanged} on its connection-state thread; the re-read
 * runs on the given reconcile executor (the same serial executor that applies assignments, so the
 * two never interleave). A generation counter makes a reconcile that was overtaken by a newer
 * state change never resume firing.
 */
public final class FencingPolicy implements ConnectionStateListener {
    private static final Logger log = LoggerFactory.getLogger(FencingPolicy.class);

    /** Re-reads the allocation and applies it; throws when ZooKeeper cannot be read. */
    @FunctionalInterface
    public interface Reconciler {
        void reconcile() throws Exception;
    }

    private final FiringSwitch firing;
    private final Reconciler reconciler;
    private final Executor reconcileExecutor;
    private long generation;

    public FencingPolicy(FiringSwitch firing, Reconciler reconciler, Executor reconcileExecutor) {
        this.firing = Objects.requireNonNull(firing, "firing");
        this.reconciler = Objects.requireNonNull(reconciler, "reconciler");
        this.reconcileExecutor = Objects.requireNonNull(reconcileExecutor, "reconcileExecutor");
    }

    @Override
    public synchronized void stateChanged(CuratorFramework client, ConnectionState newState) {
        long current = ++generation;
        switch (newState) {
            case SUSPENDED, LOST, READ_ONLY -> firing.stopFiring("ZooKeeper connection " + newState);
            case CONNECTED, RECONNECTED -> {
                log.info("ZooKeeper connection {}; re-reading the allocation before firing", newState);
                try {
                    reconcileExecutor.execute(() -> reconcileThenResume(current));
                } catch (RejectedExecutionException e) {
                    log.debug("agent is closing; not reconciling after {}", newState);
                }
            }
        }
    }

    /** Confirms this process still holds its ZooKeeper session; throws when ZooKeeper cannot say. */
    @FunctionalInterface
    public interface SessionCheck {
        boolean sessionStillOwnsTheAgentNode() throws Exception;
    }

    /**
     * Called (from the timer thread, which has already stopped firing) after the process was
     * paused: confirm the session on the reconcile executor, then reconcile and resume.
     */
    public synchronized void processPaused(java.time.Duration lateBy, SessionCheck check) {
        long current = ++generation;
        try {
            reconcileExecutor.execute(() -> {
                try {
                    if (!check.sessionStillOwnsTheAgentNode()) {
                        log.warn("the ZooKeeper session ended during a {} ms pause; not firing until ZooKeeper"
                                + " reconnects", lateBy.toMillis());
                        return;
                    }
                } catch (Exception e) {
                    log.warn("cannot confirm the ZooKeeper session after a {} ms pause ({}); not firing until"
                            + " ZooKeeper reconnects", lateBy.toMillis(), e.toString());
                    return;
                }
                reconcileThenResume(current);
            });
        } catch (RejectedExecutionException e) {
            log.debug("agent is closing; not confirming the session after a pause");
        }
    }

    private void reconcileThenResume(long expectedGeneration) {
        try {
            reconciler.reconcile();
        } catch (Exception e) {
            // Stay fenced: the next RECONNECTED triggers another attempt.
            log.warn("cannot re-read the allocation after reconnecting ({}); not firing until the next reconnect",
                    e.toString());
            return;
        }
        synchronized (this) {
            if (expectedGeneration == generation) {
                firing.resumeFiring();
            }
        }
    }
}
