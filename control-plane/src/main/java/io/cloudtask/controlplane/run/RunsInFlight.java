package io.cloudtask.controlplane.run;

import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Which runs are in flight (RUNNING) in a cluster, read for a whole cluster in one query (the
 * partial index {@code runs_running} holds exactly these rows). Allocation pins a task to the
 * agents running it; the agents view shows each agent's load. Thread-safe.
 */
@Singleton
public class RunsInFlight {
    private final TransactionOperations<Connection> transactions;

    RunsInFlight(TransactionOperations<Connection> transactions) {
        this.transactions = transactions;
    }

    /** Task id → the agents on which one of its runs is RUNNING. Tasks with none are absent. */
    public Map<String, Set<String>> agentsByTask(String cluster) {
        return transactions.executeRead(status -> {
            Map<String, Set<String>> running = new HashMap<>();
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT DISTINCT task_id, agent_id FROM runs WHERE cluster = ? AND status = 'RUNNING'")) {
                select.setString(1, cluster);
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        running.computeIfAbsent(rows.getObject(1, UUID.class).toString(), k -> new HashSet<>())
                                .add(rows.getString(2));
                    }
                }
            }
            return running;
        });
    }

    /** Agent id → number of its RUNNING runs, for the agents of {@code cluster} (all clusters when null). */
    public Map<String, Integer> countByAgent(String cluster) {
        return transactions.executeRead(status -> {
            Map<String, Integer> counts = new HashMap<>();
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT agent_id, count(*) FROM runs WHERE status = 'RUNNING'"
                            + " AND (CAST(? AS TEXT) IS NULL OR cluster = ?) GROUP BY agent_id")) {
                select.setString(1, cluster);
                select.setString(2, cluster);
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        counts.put(rows.getString(1), rows.getInt(2));
                    }
                }
            }
            return counts;
        });
    }
}
