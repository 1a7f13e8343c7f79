package io.cloudtask.agent.membership;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.schedule.FiringSwitch;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import org.apache.curator.framework.state.ConnectionState;
import org.junit.jupiter.api.Test;

class FencingPolicyTest {
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final Queue<Runnable> reconcileQueue = new ArrayDeque<>();
    private final Executor reconcileExecutor = reconcileQueue::add;
    private boolean failReconcile;

    private final FiringSwitch firing = new FiringSwitch() {
        @Override
        public void stopFiring(String reason) {
            events.add("stop");
        }

        @Override
        public void resumeFiring() {
            events.add("resume");
        }
    };

    private final FencingPolicy policy = new FencingPolicy(firing, () -> {
        events.add("reconcile");
        if (failReconcile) {
            throw new IllegalStateException("ZooKeeper unreachable");
        }
    }, reconcileExecutor);

    @Test
    void stopsFiringAtOnceWhenTheConnectionIsSuspendedOrLost() {
        policy.stateChanged(null, ConnectionState.SUSPENDED);
        policy.stateChanged(null, ConnectionState.LOST);

        assertThat(events).containsExactly("stop", "stop");
        assertThat(reconcileQueue).isEmpty();
    }

    @Test
    void resumesOnlyAfterReReadingTheAllocationWhenReconnected() {
        policy.stateChanged(null, ConnectionState.SUSPENDED);
        policy.stateChanged(null, ConnectionState.RECONNECTED);
        assertThat(events).containsExactly("stop");

        runReconcileQueue();

        assertThat(events).containsExactly("stop", "reconcile", "resume");
    }

    @Test
    void aReconcileOvertakenByANewSuspensionDoesNotResume() {
        policy.stateChanged(null, ConnectionState.RECONNECTED);
        policy.stateChanged(null, ConnectionState.SUSPENDED);

        runReconcileQueue();

        assertThat(events).containsExactly("stop", "reconcile");
    }

    @Test
    void staysStoppedWhenTheReReadFails() {
        failReconcile = true;
        policy.stateChanged(null, ConnectionState.CONNECTED);

        runReconcileQueue();

        assertThat(events).containsExactly("reconcile");
    }

    private void runReconcileQueue() {
        Runnable task;
        while ((task = reconcileQueue.poll()) != null) {
            task.run();
        }
    }
}
