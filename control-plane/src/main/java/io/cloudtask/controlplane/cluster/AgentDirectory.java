package io.cloudtask.controlplane.cluster;

import io.cloudtask.proto.v1.AgentInfo;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** The record of agents seen (liveness itself lives in ZooKeeper). Thread-safe. */
@Singleton
public class AgentDirectory {
    private static final String UPSERT = "INSERT INTO agents (id, cluster, hostname, os, arch, agent_version,"
            + " first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            + " cluster = EXCLUDED.cluster, hostname = EXCLUDED.hostname, os = EXCLUDED.os, arch = EXCLUDED.arch,"
            + " agent_version = EXCLUDED.agent_version, last_seen_at = EXCLUDED.last_seen_at";

    private final TransactionOperations<Connection> transactions;
    private final Clock clock;

    AgentDirectory(TransactionOperations<Connection> transactions, Clock clock) {
        this.transactions = transactions;
        this.clock = clock;
    }

    /** Records that an agent connected, with the host facts it reported. */
    public void recordSeen(String agentId, String cluster, AgentInfo info) {
        OffsetDateTime now = OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
        transactions.executeWrite(status -> {
            try (PreparedStatement upsert = status.getConnection().prepareStatement(UPSERT)) {
                upsert.setString(1, agentId);
                upsert.setString(2, cluster);
                upsert.setString(3, info.getHostname());
                upsert.setString(4, info.getOs());
                upsert.setString(5, info.getArch());
                upsert.setString(6, info.getAgentVersion());
                upsert.setObject(7, now);
                upsert.setObject(8, now);
                upsert.executeUpdate();
            }
            return null;
        });
    }
}
