package io.cloudtask.controlplane.command;

import com.google.protobuf.InvalidProtocolBufferException;
import io.cloudtask.proto.v1.ControlMessage;
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
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The {@code commands} table: what was asked of which agent, and where each command is. Inserting
 * a command and recording an answer each notify every replica (PostgreSQL NOTIFY, sent on commit)
 * on {@link #COMMANDS_CHANNEL} and {@link #ANSWERS_CHANNEL}. Thread-safe; each call is one
 * transaction.
 */
@Singleton
public class CommandStore {
    /** Payload: the agent id that has a new command. */
    static final String COMMANDS_CHANNEL = "cloudtask_commands";
    /** Payload: the id of a command that was answered. */
    static final String ANSWERS_CHANNEL = "cloudtask_command_answers";

    private static final String COLUMNS = "id, kind, state, task_id, run_id, cluster, agent_id, message, created_at,"
            + " expires_at, delivered_at, answered_at";

    private final TransactionOperations<Connection> transactions;

    CommandStore(TransactionOperations<Connection> transactions) {
        this.transactions = transactions;
    }

    /** A command to store, with the message the agent will receive. */
    record NewCommand(UUID id, CommandKind kind, String cluster, String agentId, UUID taskId, UUID runId,
                      ControlMessage payload, Instant createdAt, Instant expiresAt) {}

    void insert(NewCommand command) {
        transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO commands (id, kind, cluster,"
                    + " agent_id, task_id, run_id, payload, state, created_at, expires_at)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?)")) {
                insert.setObject(1, command.id());
                insert.setString(2, command.kind().name());
                insert.setString(3, command.cluster());
                insert.setString(4, command.agentId());
                insert.setObject(5, command.taskId());
                insert.setObject(6, command.runId());
                insert.setBytes(7, command.payload().toByteArray());
                insert.setObject(8, utc(command.createdAt()));
                insert.setObject(9, utc(command.expiresAt()));
                insert.executeUpdate();
            }
            notify(connection, COMMANDS_CHANNEL, command.agentId());
            return null;
        });
    }

    /**
     * Marks the agent's open commands delivered by this replica and returns their messages, oldest
     * first: the PENDING ones, and with {@code redeliver} also those DELIVERED earlier but never
     * answered (a new stream: the old one may have lost them). Expired commands are left out.
     * Rows another replica is delivering at this moment are skipped, not waited for.
     */
    List<ControlMessage> takeForDelivery(String agentId, String cluster, boolean redeliver, String replicaId,
            Instant now) {
        return transactions.executeWrite(status -> {
            List<ControlMessage> messages = new ArrayList<>();
            try (PreparedStatement take = status.getConnection().prepareStatement("UPDATE commands"
                    + " SET state = 'DELIVERED', delivered_at = ?, delivered_by = ?"
                    + " WHERE id IN (SELECT id FROM commands WHERE agent_id = ? AND cluster = ? AND state IN ("
                    + (redeliver ? "'PENDING', 'DELIVERED'" : "'PENDING'") + ") AND expires_at > ?"
                    + " FOR UPDATE SKIP LOCKED)"
                    + " RETURNING created_at, payload")) {
                take.setObject(1, utc(now));
                take.setString(2, replicaId);
                take.setString(3, agentId);
                take.setString(4, cluster);
                take.setObject(5, utc(now));
                List<Object[]> rows = new ArrayList<>();
                try (ResultSet result = take.executeQuery()) {
                    while (result.next()) {
                        rows.add(new Object[] {result.getObject(1, OffsetDateTime.class), result.getBytes(2)});
                    }
                }
                rows.sort((a, b) -> ((OffsetDateTime) a[0]).compareTo((OffsetDateTime) b[0]));
                for (Object[] row : rows) {
                    messages.add(parse((byte[]) row[1]));
                }
            }
            return messages;
        });
    }

    /**
     * Records the agent's answer to one of its open commands.
     *
     * @return false when there is no such open command of that agent (already answered, expired,
     *     or not addressed to it): the answer is ignored
     */
    boolean answer(String agentId, UUID commandId, CommandState state, String message, Instant now) {
        return transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            int updated;
            try (PreparedStatement update = connection.prepareStatement("UPDATE commands SET state = ?, message = ?,"
                    + " answered_at = ? WHERE id = ? AND agent_id = ? AND state IN ('PENDING', 'DELIVERED')")) {
                update.setString(1, state.name());
                update.setString(2, message);
                update.setObject(3, utc(now));
                update.setObject(4, commandId);
                update.setString(5, agentId);
                updated = update.executeUpdate();
            }
            if (updated > 0) {
                notify(connection, ANSWERS_CHANNEL, commandId.toString());
            }
            return updated > 0;
        });
    }

    Optional<CommandView> find(UUID id) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT " + COLUMNS + " FROM commands WHERE id = ?")) {
                select.setObject(1, id);
                try (ResultSet rows = select.executeQuery()) {
                    return rows.next() ? Optional.of(view(rows)) : Optional.empty();
                }
            }
        });
    }

    /** Ends open commands whose time-to-live ran out; returns how many. */
    int expireOverdue(Instant now) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement expire = status.getConnection().prepareStatement("UPDATE commands"
                    + " SET state = 'EXPIRED', answered_at = ?, message = CASE state WHEN 'PENDING'"
                    + " THEN 'the agent had no stream to a control plane before the command expired'"
                    + " ELSE 'delivered, but the agent did not answer before the command expired; if it was a run,"
                    + " look for its run id' END"
                    + " WHERE state IN ('PENDING', 'DELIVERED') AND expires_at <= ?")) {
                expire.setObject(1, utc(now));
                expire.setObject(2, utc(now));
                return expire.executeUpdate();
            }
        });
    }

    /** Which of these agents have PENDING commands. */
    List<String> agentsWithPending(Collection<String> agentIds, Instant now) {
        if (agentIds.isEmpty()) {
            return List.of();
        }
        return transactions.executeRead(status -> {
            Connection connection = status.getConnection();
            try (PreparedStatement select = connection.prepareStatement("SELECT DISTINCT agent_id FROM commands"
                    + " WHERE state = 'PENDING' AND expires_at > ? AND agent_id = ANY (?)")) {
                select.setObject(1, utc(now));
                select.setArray(2, connection.createArrayOf("text", agentIds.toArray()));
                List<String> agents = new ArrayList<>();
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        agents.add(rows.getString(1));
                    }
                }
                return agents;
            }
        });
    }

    /** Deletes commands created before the horizon, in bounded batches; returns how many. */
    int deleteCreatedBefore(Instant horizon, int batchSize) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement delete = status.getConnection().prepareStatement("DELETE FROM commands WHERE id IN"
                    + " (SELECT id FROM commands WHERE created_at < ? LIMIT ?)")) {
                delete.setObject(1, utc(horizon));
                delete.setInt(2, batchSize);
                return delete.executeUpdate();
            }
        });
    }

    private static CommandView view(ResultSet row) throws SQLException {
        return new CommandView(row.getObject("id", UUID.class), CommandKind.valueOf(row.getString("kind")),
                CommandState.valueOf(row.getString("state")), row.getObject("task_id", UUID.class),
                row.getObject("run_id", UUID.class), row.getString("cluster"), row.getString("agent_id"),
                row.getString("message"), instant(row, "created_at"), instant(row, "expires_at"),
                instant(row, "delivered_at"), instant(row, "answered_at"));
    }

    private static Instant instant(ResultSet row, String column) throws SQLException {
        OffsetDateTime value = row.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    private static void notify(Connection connection, String channel, String payload) throws SQLException {
        try (PreparedStatement notify = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
            notify.setString(1, channel);
            notify.setString(2, payload);
            notify.execute();
        }
    }

    private static ControlMessage parse(byte[] payload) {
        try {
            return ControlMessage.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            // Only this class writes the column, from a built message: a failure here is corruption.
            throw new IllegalStateException("a stored command payload is not a ControlMessage", e);
        }
    }

    private static OffsetDateTime utc(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
