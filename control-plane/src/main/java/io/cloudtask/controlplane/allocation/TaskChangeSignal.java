package io.cloudtask.controlplane.allocation;

import io.cloudtask.controlplane.cluster.AgentFlagsListener;
import io.cloudtask.controlplane.cluster.AgentGroupListener;
import io.cloudtask.controlplane.task.TaskChangeListener;
import io.cloudtask.protocol.ZkLayout;
import jakarta.inject.Singleton;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import org.apache.curator.framework.CuratorFramework;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the leading replica, wherever it runs, that tasks, agents' cordon and drain flags or a
 * group's selector changed: rewrites the
 * {@link ZkLayout#TASKS_CHANGED} node, which the leader watches. Asynchronous, so a slow or
 * unreachable ZooKeeper never holds up an API request; the leader's periodic reconcile covers a
 * lost signal.
 */
@Singleton
class TaskChangeSignal implements TaskChangeListener, AgentFlagsListener, AgentGroupListener {
    private static final Logger log = LoggerFactory.getLogger(TaskChangeSignal.class);

    private final CuratorFramework client;
    private final Clock clock;

    TaskChangeSignal(CuratorFramework client, Clock clock) {
        this.client = client;
        this.clock = clock;
    }

    @Override
    public void tasksChanged(String cluster) {
        signal(cluster);
    }

    /** The same signal as a task change: the leader re-reads every input, flags included. */
    @Override
    public void agentFlagsChanged(String cluster) {
        signal(cluster);
    }

    /** The same signal again: the leader reads the groups' selectors on every publication. */
    @Override
    public void groupChanged(String cluster) {
        signal(cluster);
    }

    private void signal(String cluster) {
        byte[] payload = (cluster + "@" + clock.instant()).getBytes(StandardCharsets.UTF_8);
        try {
            client.create().orSetData().creatingParentsIfNeeded().inBackground((c, event) -> {
                if (event.getResultCode() != 0) {
                    log.warn("could not signal a task change in cluster {} (ZooKeeper result {});"
                            + " the periodic reconcile will publish it", cluster, event.getResultCode());
                }
            }).forPath(ZkLayout.TASKS_CHANGED, payload);
        } catch (Exception e) {
            log.warn("could not signal a task change in cluster {}: {}", cluster, e.toString());
        }
    }
}
