package io.cloudtask.controlplane.cluster;

import io.cloudtask.proto.v1.AgentInfo;
import io.micronaut.core.type.Argument;
import io.micronaut.json.JsonMapper;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The record of agents seen, with the operator's cordon and drain flags (liveness itself lives
 * in ZooKeeper). Thread-safe.
 */
@Singleton
public class AgentDirectory {
    private static final Argument<Map<String, String>> LABELS = Argument.mapOf(String.class, String.class);
    private static final String UPSERT = "INSERT INTO agents (id, cluster, hostname, os, arch, agent_version,"
            + " first_seen_at, last_seen_at, labels_json, capacity, connected_replica)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            + " cluster = EXCLUDED.cluster, hostname = EXCLUDED.hostname, os = EXCLUDED.os, arch = EXCLUDED.arch,"
            + " agent_version = EXCLUDED.agent_version, last_seen_at = EXCLUDED.last_seen_at,"
            + " labels_json = EXCLUDED.labels_json, capacity = EXCLUDED.capacity,"
            + " connected_replica = COALESCE(EXCLUDED.connected_replica, agents.connected_replica)";
    private static final String COLUMNS = "id, cluster, hostname, os, arch, agent_version, labels_json, capacity,"
            + " first_seen_at, last_seen_at, cordoned, draining, connected_replica, drain_waits_for_runs";

    private final TransactionOperations<Connection> transactions;
    private final JsonMapper json;
    private final Clock clock;

    AgentDirectory(TransactionOperations<Connection> transactions, JsonMapper json, Clock clock) {
        this.transactions = transactions;
        this.json = json;
        this.clock = clock;
    }

    /** Records that an agent connected to {@code replicaId}, with the host facts it reported. */
    public void recordSeen(String agentId, String cluster, AgentInfo info, String replicaId) {
        upsert(agentId, cluster, info, replicaId);
    }

    /** Forgets which replica holds the agent's stream, unless a newer stream on another replica took it. */
    public void recordDisconnected(String agentId, String replicaId) {
        transactions.executeWrite(status -> {
            try (PreparedStatement update = status.getConnection().prepareStatement(
                    "UPDATE agents SET connected_replica = NULL WHERE id = ? AND connected_replica = ?")) {
                update.setString(1, agentId);
                update.setString(2, replicaId);
                update.executeUpdate();
            }
            return null;
        });
    }

    /** The host name an agent reported in its last Hello; empty for an agent never seen. */
    public Optional<String> recordedHostname(String agentId) {
        return transactions.executeRead(status -> {
            try (PreparedStatement query = status.getConnection().prepareStatement(
                    "SELECT hostname FROM agents WHERE id = ?")) {
                query.setString(1, agentId);
                try (ResultSet rows = query.executeQuery()) {
                    return rows.next() ? Optional.of(rows.getString(1)) : Optional.<String>empty();
                }
            }
        });
    }

    /** The cordon and drain flags of a cluster's agents; agents not listed have none. */
    public Map<String, AgentFlags> flagsOf(String cluster) {
        return transactions.executeRead(status -> {
            try (PreparedStatement query = status.getConnection().prepareStatement(
                    "SELECT id, cordoned, draining, drain_waits_for_runs FROM agents"
                            + " WHERE cluster = ? AND (cordoned OR draining)")) {
                query.setString(1, cluster);
                Map<String, AgentFlags> flags = new HashMap<>();
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        flags.put(rows.getString(1), new AgentFlags(rows.getBoolean(2), rows.getBoolean(3),
                                rows.getBoolean(4)));
                    }
                }
                return flags;
            }
        });
    }

    /** Agents of one cluster, or of every cluster when {@code cluster} is null, by id. */
    List<AgentRow> list(String cluster) {
        return transactions.executeRead(status -> {
            String sql = "SELECT " + COLUMNS + " FROM agents" + (cluster == null ? "" : " WHERE cluster = ?")
                    + " ORDER BY id";
            try (PreparedStatement query = status.getConnection().prepareStatement(sql)) {
                if (cluster != null) {
                    query.setString(1, cluster);
                }
                List<AgentRow> agents = new ArrayList<>();
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        agents.add(row(rows));
                    }
                }
                return agents;
            }
        });
    }

    Optional<AgentRow> find(String agentId) {
        return transactions.executeRead(status -> {
            try (PreparedStatement query = status.getConnection().prepareStatement(
                    "SELECT " + COLUMNS + " FROM agents WHERE id = ?")) {
                query.setString(1, agentId);
                try (ResultSet rows = query.executeQuery()) {
                    return rows.next() ? Optional.of(row(rows)) : Optional.empty();
                }
            }
        });
    }

    /**
     * Sets an agent's flags, first recording it from its live {@code info} if PostgreSQL has not
     * seen it (an agent registered in ZooKeeper whose stream has not reached any replica yet).
     */
    void setFlags(String agentId, String cluster, AgentInfo info, AgentFlags flags) {
        if (info != null) {
            upsertIfAbsent(agentId, cluster, info);
        }
        transactions.executeWrite(status -> {
            try (PreparedStatement update = status.getConnection().prepareStatement(
                    "UPDATE agents SET cordoned = ?, draining = ?, drain_waits_for_runs = ? WHERE id = ?")) {
                update.setBoolean(1, flags.cordoned());
                update.setBoolean(2, flags.draining());
                update.setBoolean(3, flags.waitsForRuns());
                update.setString(4, agentId);
                update.executeUpdate();
            }
            return null;
        });
    }

    private void upsert(String agentId, String cluster, AgentInfo info, String replicaId) {
        write(UPSERT, agentId, cluster, info, replicaId);
    }

    private void upsertIfAbsent(String agentId, String cluster, AgentInfo info) {
        write(UPSERT.substring(0, UPSERT.indexOf(" ON CONFLICT")) + " ON CONFLICT (id) DO NOTHING", agentId, cluster,
                info, null);
    }

    private void write(String sql, String agentId, String cluster, AgentInfo info, String replicaId) {
        OffsetDateTime now = OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
        String labels;
        try {
            labels = json.writeValueAsString(info.getLabelsMap());
        } catch (IOException e) {
            throw new UncheckedIOException("could not encode the labels of agent " + agentId, e);
        }
        transactions.executeWrite(status -> {
            try (PreparedStatement upsert = status.getConnection().prepareStatement(sql)) {
                upsert.setString(1, agentId);
                upsert.setString(2, cluster);
                upsert.setString(3, info.getHostname());
                upsert.setString(4, info.getOs());
                upsert.setString(5, info.getArch());
                upsert.setString(6, info.getAgentVersion());
                upsert.setObject(7, now);
                upsert.setObject(8, now);
                upsert.setString(9, labels);
                upsert.setInt(10, info.getCapacity());
                upsert.setString(11, replicaId);
                upsert.executeUpdate();
            }
            return null;
        });
    }

    private AgentRow row(ResultSet rows) throws SQLException {
        Map<String, String> labels;
        try {
            labels = json.readValue(rows.getString(7), LABELS);
        } catch (IOException e) {
            throw new UncheckedIOException("agents.labels_json of agent " + rows.getString(1) + " is not JSON", e);
        }
        return new AgentRow(rows.getString(1), rows.getString(2), rows.getString(3), rows.getString(4),
                rows.getString(5), rows.getString(6), labels == null ? Map.of() : labels, rows.getInt(8),
                rows.getObject(9, OffsetDateTime.class).toInstant(), rows.getObject(10, OffsetDateTime.class).toInstant(),
                new AgentFlags(rows.getBoolean(11), rows.getBoolean(12), rows.getBoolean(14)), rows.getString(13));
    }
}
