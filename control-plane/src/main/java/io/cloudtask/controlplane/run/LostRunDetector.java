package io.cloudtask.controlplane.run;

import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.context.annotation.Value;
import io.micronaut.scheduling.annotation.Scheduled;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Marks runs LOST when their agent's ZooKeeper session has ended (its ephemeral node is gone)
 * while they were RUNNING, so no run stays RUNNING forever. Runs on every replica; the update is
 * idempotent. It does nothing while this replica cannot read ZooKeeper (it cannot tell then).
 * A grace period covers an agent whose node is not yet visible when its first run is reported.
 * If the agent was only partitioned and later reports the run's end, the state machine lets that
 * report replace LOST.
 */
@Singleton
class LostRunDetector {
    private static final Logger log = LoggerFactory.getLogger(LostRunDetector.class);
    private static final String MARK_LOST = "UPDATE runs SET status = 'LOST', finished_at = ?, updated_at = ?,"
            + " error = 'the agent''s ZooKeeper session ended while the run was in flight'"
            + " WHERE cluster = ? AND status IN (" + RunStateMachine.storedSourcesSql(RunEvent.LOSE) + ")"
            + " AND agent_id <> ALL(?) AND created_at < ?";

    private final CuratorFramework client;
    private final ClusterService clusters;
    private final TransactionOperations<Connection> transactions;
    private final Clock clock;
    private final Duration grace;

    LostRunDetector(CuratorFramework client, ClusterService clusters, TransactionOperations<Connection> transactions,
            Clock clock, @Value("${cloudtask.runs.lost-grace:10s}") Duration grace) {
        this.client = client;
        this.clusters = clusters;
        this.transactions = transactions;
        this.clock = clock;
        this.grace = grace;
    }

    @Scheduled(fixedDelay = "${cloudtask.runs.lost-check-interval:5s}", initialDelay = "5s")
    void markLostRuns() {
        if (!client.getZookeeperClient().isConnected()) {
            return;
        }
        try {
            for (String cluster : clusters.names()) {
                List<String> liveAgents;
                try {
                    liveAgents = client.getChildren().forPath(ZkLayout.agents(cluster));
                } catch (KeeperException.NoNodeException e) {
                    liveAgents = List.of();
                }
                int lost = markLost(cluster, liveAgents);
                if (lost > 0) {
                    log.warn("marked {} run(s) in cluster {} LOST: their agents' sessions ended", lost, cluster);
                }
            }
        } catch (Exception e) {
            log.warn("lost-run check failed, retrying at the next interval: {}", e.toString());
        }
    }

    int markLost(String cluster, List<String> liveAgents) {
        OffsetDateTime now = OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
        return transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            try (PreparedStatement update = connection.prepareStatement(MARK_LOST)) {
                update.setObject(1, now);
                update.setObject(2, now);
                update.setString(3, cluster);
                update.setArray(4, connection.createArrayOf("text", liveAgents.toArray()));
                update.setObject(5, now.minus(grace));
                return update.executeUpdate();
            }
        });
    }
}
