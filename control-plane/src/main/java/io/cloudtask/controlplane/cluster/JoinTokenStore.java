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
import java.util.UUID;

/** The {@code join_tokens} table: hashes and metadata only, never a token itself. Thread-safe. */
@Singleton
class JoinTokenStore {
    private static final String COLUMNS = "id, cluster, prefix, description, created_at, expires_at, last_used_at,"
            + " revoked_at";

    private final TransactionOperations<Connection> transactions;

    JoinTokenStore(TransactionOperations<Connection> transactions) {
        this.transactions = transactions;
    }

    JoinTokenView create(String cluster, String prefix, byte[] hash, String description, Instant createdAt,
            Instant expiresAt) {
        UUID id = UUID.randomUUID();
        transactions.executeWrite(status -> {
            try (PreparedStatement insert = status.getConnection().prepareStatement("INSERT INTO join_tokens"
                    + " (id, cluster, prefix, token_hash, description, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                insert.setObject(1, id);
                insert.setString(2, cluster);
                insert.setString(3, prefix);
                insert.setBytes(4, hash);
                insert.setString(5, description);
                insert.setObject(6, utc(createdAt));
                insert.setObject(7, utc(expiresAt));
                insert.executeUpdate();
            }
            return null;
        });
        return new JoinTokenView(id.toString(), cluster, prefix, description, createdAt, expiresAt, null, null, false,
                null);
    }

    List<JoinTokenView> list(String cluster) {
        return transactions.executeRead(status -> {
            try (PreparedStatement query = status.getConnection().prepareStatement("SELECT " + COLUMNS
                    + " FROM join_tokens WHERE cluster = ? ORDER BY created_at, id")) {
                query.setString(1, cluster);
                List<JoinTokenView> views = new ArrayList<>();
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        views.add(view(rows));
                    }
                }
                return views;
            }
        });
    }

    /** Revokes a token of the cluster; the token as it is afterwards, or null if there is none. */
    JoinTokenView revoke(String cluster, UUID id, Instant now) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement update = status.getConnection().prepareStatement("UPDATE join_tokens"
                    + " SET revoked_at = COALESCE(revoked_at, ?) WHERE cluster = ? AND id = ? RETURNING " + COLUMNS)) {
                update.setObject(1, utc(now));
                update.setString(2, cluster);
                update.setObject(3, id);
                try (ResultSet rows = update.executeQuery()) {
                    return rows.next() ? view(rows) : null;
                }
            }
        });
    }

    /** Every token of the cluster, live or not, as the admission policy needs them. */
    List<AdmissionPolicy.StoredToken> tokensOf(String cluster) {
        return transactions.executeRead(status -> {
            try (PreparedStatement query = status.getConnection().prepareStatement(
                    "SELECT id, token_hash, expires_at, revoked_at FROM join_tokens WHERE cluster = ?")) {
                query.setString(1, cluster);
                List<AdmissionPolicy.StoredToken> tokens = new ArrayList<>();
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        tokens.add(new AdmissionPolicy.StoredToken(rows.getString(1), rows.getBytes(2),
                                instant(rows, 3), instant(rows, 4)));
                    }
                }
                return tokens;
            }
        });
    }

    void markUsed(String id, Instant now) {
        transactions.executeWrite(status -> {
            try (PreparedStatement update = status.getConnection().prepareStatement(
                    "UPDATE join_tokens SET last_used_at = ? WHERE id = ?")) {
                update.setObject(1, utc(now));
                update.setObject(2, UUID.fromString(id));
                update.executeUpdate();
            }
            return null;
        });
    }

    private static JoinTokenView view(ResultSet rows) throws SQLException {
        Instant revokedAt = instant(rows, 8);
        return new JoinTokenView(rows.getString(1), rows.getString(2), rows.getString(3), rows.getString(4),
                instant(rows, 5), instant(rows, 6), instant(rows, 7), revokedAt, revokedAt != null, null);
    }

    private static Instant instant(ResultSet rows, int column) throws SQLException {
        OffsetDateTime value = rows.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    private static OffsetDateTime utc(Instant instant) {
        return instant == null ? null : OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
