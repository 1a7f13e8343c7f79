package io.cloudtask.controlplane.cluster;

import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code agent_groups} table. Every method joins the caller's transaction when there is one,
 * so {@link #lock} holds its row lock until that transaction ends. Thread-safe.
 */
@Singleton
class AgentGroupStore {
    private static final String COLUMNS = "cluster, name, selector, description, version, created_at, updated_at";

    private final TransactionOperations<Connection> transactions;

    AgentGroupStore(TransactionOperations<Connection> transactions) {
        this.transactions = transactions;
    }

    /** The tasks whose placement names a group: the first ids (by id) and how many there are. */
    record Usage(List<String> firstTaskIds, long taskCount) {}

    /** The groups of one cluster, or of every cluster when {@code cluster} is null, by cluster then name. */
    List<AgentGroupRow> list(String cluster) {
        return transactions.executeRead(status -> {
            String sql = "SELECT " + COLUMNS + " FROM agent_groups" + (cluster == null ? "" : " WHERE cluster = ?")
                    + " ORDER BY cluster, name";
            try (PreparedStatement query = status.getConnection().prepareStatement(sql)) {
                if (cluster != null) {
                    query.setString(1, cluster);
                }
                return rows(query);
            }
        });
    }

    Optional<AgentGroupRow> find(String cluster, String name) {
        return transactions.executeRead(status -> select(status.getConnection(), cluster, name, ""));
    }

    /**
     * Reads a group and locks its row until the caller's write transaction ends: {@code exclusive}
     * for an edit or a delete, shared for a task that is about to name it (so that a delete either
     * sees that task or makes its write fail on the missing group).
     */
    Optional<AgentGroupRow> lock(String cluster, String name, boolean exclusive) {
        return transactions.executeWrite(status -> select(status.getConnection(), cluster, name,
                exclusive ? " FOR UPDATE" : " FOR SHARE"));
    }

    /** Whether the cluster exists, locking its row (shared) so it cannot be deleted under the caller. */
    boolean lockCluster(String cluster) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement query = status.getConnection().prepareStatement(
                    "SELECT 1 FROM clusters WHERE name = ? FOR SHARE")) {
                query.setString(1, cluster);
                try (ResultSet rows = query.executeQuery()) {
                    return rows.next();
                }
            }
        });
    }

    /** Inserts a group; false when the cluster already has one of that name. */
    boolean insert(AgentGroupRow row) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement insert = status.getConnection().prepareStatement(
                    "INSERT INTO agent_groups (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?)"
                            + " ON CONFLICT (cluster, name) DO NOTHING")) {
                insert.setString(1, row.cluster());
                insert.setString(2, row.name());
                insert.setString(3, row.selector());
                insert.setString(4, row.description());
                insert.setLong(5, row.version());
                insert.setObject(6, utc(row.createdAt()));
                insert.setObject(7, utc(row.updatedAt()));
                return insert.executeUpdate() == 1;
            }
        });
    }

    void update(AgentGroupRow row) {
        transactions.executeWrite(status -> {
            try (PreparedStatement update = status.getConnection().prepareStatement(
                    "UPDATE agent_groups SET selector = ?, description = ?, version = ?, updated_at = ?"
                            + " WHERE cluster = ? AND name = ?")) {
                update.setString(1, row.selector());
                update.setString(2, row.description());
                update.setLong(3, row.version());
                update.setObject(4, utc(row.updatedAt()));
                update.setString(5, row.cluster());
                update.setString(6, row.name());
                update.executeUpdate();
            }
            return null;
        });
    }

    void delete(String cluster, String name) {
        transactions.executeWrite(status -> {
            try (PreparedStatement delete = status.getConnection().prepareStatement(
                    "DELETE FROM agent_groups WHERE cluster = ? AND name = ?")) {
                delete.setString(1, cluster);
                delete.setString(2, name);
                delete.executeUpdate();
            }
            return null;
        });
    }

    /** The live tasks of the cluster whose placement names the group. */
    Usage usage(String cluster, String name, int firstIds) {
        return transactions.executeRead(status -> {
            // Placements are stored normalised, so only a group placement has a "group" member.
            try (PreparedStatement query = status.getConnection().prepareStatement(
                    "SELECT id, count(*) OVER () FROM tasks WHERE cluster = ? AND deleted_at IS NULL"
                            + " AND placement_json::jsonb ->> 'group' = ? ORDER BY id LIMIT ?")) {
                query.setString(1, cluster);
                query.setString(2, name);
                query.setInt(3, firstIds);
                List<String> ids = new ArrayList<>();
                long count = 0;
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        ids.add(rows.getString(1));
                        count = rows.getLong(2);
                    }
                }
                return new Usage(ids, count);
            }
        });
    }

    private static Optional<AgentGroupRow> select(Connection connection, String cluster, String name, String lock)
            throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT " + COLUMNS + " FROM agent_groups WHERE cluster = ? AND name = ?" + lock)) {
            query.setString(1, cluster);
            query.setString(2, name);
            List<AgentGroupRow> rows = rows(query);
            return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
        }
    }

    private static List<AgentGroupRow> rows(PreparedStatement query) throws SQLException {
        List<AgentGroupRow> groups = new ArrayList<>();
        try (ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                groups.add(new AgentGroupRow(rows.getString(1), rows.getString(2), rows.getString(3), rows.getString(4),
                        rows.getLong(5), rows.getObject(6, OffsetDateTime.class).toInstant(),
                        rows.getObject(7, OffsetDateTime.class).toInstant()));
            }
        }
        return groups;
    }

    private static OffsetDateTime utc(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
