package io.cloudtask.controlplane.pkg;

import io.cloudtask.controlplane.task.CurrentPackage;
import io.cloudtask.controlplane.task.TaskPackages;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * The package tables ({@code package_blobs}, {@code package_blob_chunks}, {@code task_packages}
 * and {@code tasks.package_version}) over JDBC. Every method joins the caller's transaction when
 * there is one and otherwise runs in its own. Thread-safe (stateless over the database).
 */
@Singleton
class PackageStore implements TaskPackages {
    /** Size of every stored chunk but a blob's last; offsets map to chunks by division. */
    static final int CHUNK_BYTES = 1024 * 1024;

    private static final String VERSION_COLUMNS =
            "task_id, version, sha256, file_name, format, size_bytes, uploaded_at, reverted_from";

    private final TransactionOperations<Connection> transactions;

    PackageStore(TransactionOperations<Connection> transactions) {
        this.transactions = transactions;
    }

    /** A live task locked for update: its cluster, spec version and current package version. */
    record LockedTask(UUID id, String cluster, long version, Long packageVersion) {}

    /** Locks a live task's row until the transaction ends; empty when it does not exist or was deleted. */
    Optional<LockedTask> lockLiveTask(UUID taskId) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT cluster, version, package_version FROM tasks WHERE id = ? AND deleted_at IS NULL FOR UPDATE")) {
                select.setObject(1, taskId);
                try (ResultSet row = select.executeQuery()) {
                    if (!row.next()) {
                        return Optional.empty();
                    }
                    String cluster = row.getString(1);
                    long version = row.getLong(2);
                    long packageVersion = row.getLong(3);
                    return Optional.of(new LockedTask(taskId, cluster, version, row.wasNull() ? null : packageVersion));
                }
            }
        });
    }

    /** A live task's current package version (empty optional inside when it has none); empty when no live task. */
    Optional<OptionalLong> liveTaskPackageVersion(UUID taskId) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT package_version FROM tasks WHERE id = ? AND deleted_at IS NULL")) {
                select.setObject(1, taskId);
                try (ResultSet row = select.executeQuery()) {
                    if (!row.next()) {
                        return Optional.empty();
                    }
                    long version = row.getLong(1);
                    return Optional.of(row.wasNull() ? OptionalLong.empty() : OptionalLong.of(version));
                }
            }
        });
    }

    /**
     * Makes sure a blob with this content exists, writing its chunks from {@code content} only when it
     * did not. The blob row is locked until the transaction ends, so a concurrent garbage collection
     * cannot delete it before the version that refers to it is written.
     *
     * @return whether the blob was new
     */
    boolean storeBlob(String sha256, long sizeBytes, ArchiveFormat format, Path content, Instant now) {
        return transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            boolean inserted;
            // DO UPDATE (not DO NOTHING) takes the row lock on an existing blob; xmax = 0 only on a fresh insert.
            try (PreparedStatement upsert = connection.prepareStatement(
                    "INSERT INTO package_blobs (sha256, size_bytes, format, created_at) VALUES (?, ?, ?, ?)"
                            + " ON CONFLICT (sha256) DO UPDATE SET size_bytes = package_blobs.size_bytes"
                            + " RETURNING (xmax = 0)")) {
                upsert.setString(1, sha256);
                upsert.setLong(2, sizeBytes);
                upsert.setString(3, format.name());
                upsert.setObject(4, OffsetDateTime.ofInstant(now, ZoneOffset.UTC));
                try (ResultSet row = upsert.executeQuery()) {
                    row.next();
                    inserted = row.getBoolean(1);
                }
            }
            if (inserted) {
                writeChunks(connection, sha256, content);
            }
            return inserted;
        });
    }

    /** One statement per chunk from one reused buffer: a package is never whole in memory. */
    private static void writeChunks(Connection connection, String sha256, Path content) throws SQLException {
        byte[] buffer = new byte[CHUNK_BYTES];
        try (InputStream in = Files.newInputStream(content);
                PreparedStatement insert = connection.prepareStatement(
                        "INSERT INTO package_blob_chunks (sha256, seq, data) VALUES (?, ?, ?)")) {
            int seq = 0;
            while (true) {
                int length = in.readNBytes(buffer, 0, CHUNK_BYTES);
                if (length == 0) {
                    break;
                }
                insert.setString(1, sha256);
                insert.setInt(2, seq++);
                insert.setBinaryStream(3, new ByteArrayInputStream(buffer, 0, length), length);
                insert.executeUpdate();
                if (length < CHUNK_BYTES) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the spooled upload " + content, e);
        }
    }

    /** The number the task's next package version gets. */
    long nextVersion(UUID taskId) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM task_packages WHERE task_id = ?")) {
                select.setObject(1, taskId);
                try (ResultSet row = select.executeQuery()) {
                    row.next();
                    return row.getLong(1);
                }
            }
        });
    }

    void insertVersion(PackageVersion version) {
        transactions.executeWrite(status -> {
            try (PreparedStatement insert = status.getConnection().prepareStatement(
                    "INSERT INTO task_packages (" + VERSION_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                insert.setObject(1, version.taskId());
                insert.setLong(2, version.version());
                insert.setString(3, version.sha256());
                insert.setString(4, version.fileName());
                insert.setString(5, version.format().name());
                insert.setLong(6, version.sizeBytes());
                insert.setObject(7, OffsetDateTime.ofInstant(version.uploadedAt(), ZoneOffset.UTC));
                setNullableLong(insert, 8, version.revertedFrom());
                insert.executeUpdate();
            }
            return null;
        });
    }

    /**
     * Points the task at a package version (null: no package) as the task's next spec version, so
     * its assignment changes and agents fetch the new spec.
     *
     * @return the task's new spec version
     */
    long setCurrent(UUID taskId, Long packageVersion, Instant now) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement update = status.getConnection().prepareStatement(
                    "UPDATE tasks SET package_version = ?, version = version + 1, updated_at = ? WHERE id = ?"
                            + " RETURNING version")) {
                setNullableLong(update, 1, packageVersion);
                update.setObject(2, OffsetDateTime.ofInstant(now, ZoneOffset.UTC));
                update.setObject(3, taskId);
                try (ResultSet row = update.executeQuery()) {
                    row.next();
                    return row.getLong(1);
                }
            }
        });
    }

    /**
     * Deletes the task's versions older than its newest {@code keep}, never the current one (the
     * caller holds the task's row lock).
     *
     * @return the number of versions deleted
     */
    int prune(UUID taskId, int keep) {
        return transactions.executeWrite(status -> {
            try (PreparedStatement delete = status.getConnection().prepareStatement(
                    "DELETE FROM task_packages p WHERE p.task_id = ?"
                            + " AND p.version NOT IN (SELECT version FROM task_packages WHERE task_id = ?"
                            + " ORDER BY version DESC LIMIT ?)"
                            + " AND p.version IS DISTINCT FROM (SELECT package_version FROM tasks WHERE id = ?)")) {
                delete.setObject(1, taskId);
                delete.setObject(2, taskId);
                delete.setInt(3, keep);
                delete.setObject(4, taskId);
                return delete.executeUpdate();
            }
        });
    }

    /**
     * Deletes every blob no version refers to, with its chunks. Runs in its own transaction after
     * the change that released the blobs committed.
     *
     * @return the number of blobs deleted
     */
    int deleteUnreferencedBlobs() {
        return transactions.executeWrite(status -> {
            try (PreparedStatement delete = status.getConnection().prepareStatement(
                    "DELETE FROM package_blobs b WHERE NOT EXISTS"
                            + " (SELECT 1 FROM task_packages p WHERE p.sha256 = b.sha256)")) {
                return delete.executeUpdate();
            }
        });
    }

    /** The task's kept versions, newest first. */
    List<PackageVersion> versions(UUID taskId) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT " + VERSION_COLUMNS + " FROM task_packages WHERE task_id = ? ORDER BY version DESC")) {
                select.setObject(1, taskId);
                return readVersions(select);
            }
        });
    }

    Optional<PackageVersion> version(UUID taskId, long version) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT " + VERSION_COLUMNS + " FROM task_packages WHERE task_id = ? AND version = ?")) {
                select.setObject(1, taskId);
                select.setLong(2, version);
                return readVersions(select).stream().findFirst();
            }
        });
    }

    /** The bytes of chunk {@code seq} of a blob; empty when the blob (or that chunk) is gone. */
    Optional<byte[]> chunk(String sha256, int seq) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT data FROM package_blob_chunks WHERE sha256 = ? AND seq = ?")) {
                select.setString(1, sha256);
                select.setInt(2, seq);
                try (ResultSet row = select.executeQuery()) {
                    return row.next() ? Optional.of(row.getBytes(1)) : Optional.empty();
                }
            }
        });
    }

    /**
     * The size of a blob that a kept package version of a live task of {@code cluster} refers to;
     * empty when none does (so an agent can fetch only what its cluster's tasks use).
     */
    OptionalLong sizeIfUsedInCluster(String sha256, String cluster) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT b.size_bytes FROM package_blobs b WHERE b.sha256 = ? AND EXISTS (SELECT 1"
                            + " FROM task_packages p JOIN tasks t ON t.id = p.task_id"
                            + " WHERE p.sha256 = b.sha256 AND t.cluster = ? AND t.deleted_at IS NULL)")) {
                select.setString(1, sha256);
                select.setString(2, cluster);
                try (ResultSet row = select.executeQuery()) {
                    return row.next() ? OptionalLong.of(row.getLong(1)) : OptionalLong.empty();
                }
            }
        });
    }

    @Override
    public Map<UUID, CurrentPackage> currentOf(Collection<UUID> taskIds) {
        if (taskIds.isEmpty()) {
            return Map.of();
        }
        return transactions.executeRead(status -> {
            Connection connection = status.getConnection();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT p.task_id, p.version, p.sha256, p.size_bytes, p.format, p.file_name, p.uploaded_at"
                            + " FROM tasks t JOIN task_packages p ON p.task_id = t.id AND p.version = t.package_version"
                            + " WHERE t.id = ANY (?)")) {
                Array ids = connection.createArrayOf("uuid", taskIds.toArray());
                select.setArray(1, ids);
                Map<UUID, CurrentPackage> current = new HashMap<>();
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        current.put(rows.getObject(1, UUID.class), new CurrentPackage(rows.getLong(2),
                                rows.getString(3), rows.getLong(4), rows.getString(5), rows.getString(6),
                                rows.getObject(7, OffsetDateTime.class).toInstant()));
                    }
                }
                return current;
            }
        });
    }

    @Override
    public void copyCurrent(UUID fromTaskId, UUID toTaskId) {
        transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            int copied;
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO task_packages (" + VERSION_COLUMNS + ")"
                            + " SELECT ?, 1, p.sha256, p.file_name, p.format, p.size_bytes, p.uploaded_at, NULL"
                            + " FROM tasks t JOIN task_packages p ON p.task_id = t.id AND p.version = t.package_version"
                            + " WHERE t.id = ?")) {
                insert.setObject(1, toTaskId);
                insert.setObject(2, fromTaskId);
                copied = insert.executeUpdate();
            }
            if (copied > 0) {
                // The copy is created at spec version 1 and stays there: its package came with it.
                try (PreparedStatement update = connection.prepareStatement(
                        "UPDATE tasks SET package_version = 1 WHERE id = ?")) {
                    update.setObject(1, toTaskId);
                    update.executeUpdate();
                }
            }
            return null;
        });
    }

    private static void setNullableLong(PreparedStatement statement, int index, Long value) throws SQLException {
        if (value == null) {
            statement.setNull(index, Types.BIGINT);
        } else {
            statement.setLong(index, value);
        }
    }

    private static List<PackageVersion> readVersions(PreparedStatement select) throws SQLException {
        List<PackageVersion> versions = new ArrayList<>();
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                long revertedFrom = rows.getLong(8);
                Long reverted = rows.wasNull() ? null : revertedFrom;
                versions.add(new PackageVersion(rows.getObject(1, UUID.class), rows.getLong(2), rows.getString(3),
                        rows.getString(4), ArchiveFormat.valueOf(rows.getString(5)), rows.getLong(6),
                        rows.getObject(7, OffsetDateTime.class).toInstant(), reverted));
            }
        }
        return versions;
    }
}
