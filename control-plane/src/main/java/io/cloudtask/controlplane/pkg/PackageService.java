package io.cloudtask.controlplane.pkg;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.controlplane.task.TaskChangeListener;
import io.micronaut.http.exceptions.ContentLengthExceededException;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.time.Clock;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Task packages: upload, list, download, revert, remove. Every change of a task's current package
 * is the task's next spec version, committed before the {@link TaskChangeListener}s hear of it,
 * so the allocation names the new version and agents fetch the new spec. Thread-safe.
 *
 * <p>An upload is first spooled to a temporary file while its sha256 and size are computed, then
 * written to the database in one short transaction. That keeps a slow client from holding a
 * database connection and the task's row lock for the whole transfer, and means a rejected or
 * broken upload leaves nothing in the database.
 */
@Singleton
public class PackageService {
    private static final Logger log = LoggerFactory.getLogger(PackageService.class);
    private static final int COPY_BUFFER_BYTES = 64 * 1024;

    private final PackageStore store;
    private final PackageSettings settings;
    private final TransactionOperations<Connection> transactions;
    private final List<TaskChangeListener> listeners;
    private final Clock clock;

    PackageService(PackageStore store, PackageSettings settings, TransactionOperations<Connection> transactions,
            List<TaskChangeListener> listeners, Clock clock) {
        this.store = store;
        this.settings = settings;
        this.transactions = transactions;
        this.listeners = listeners;
        this.clock = clock;
    }

    /**
     * Stores {@code content} as the task's next package version and makes it current.
     *
     * @param fileName the uploaded file's name; its ending says the format, which the content's first
     *                 bytes must confirm
     */
    public PackageView upload(UUID taskId, String fileName, InputStream content) {
        requireLiveTask(taskId);
        String name = fileName == null ? "" : fileName.strip();
        int slash = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
        name = name.substring(slash + 1);
        if (name.isEmpty() || name.length() > 255 || name.chars().anyMatch(Character::isISOControl)) {
            throw ApiException.invalid("file", "the file part needs a file name of 1-255 characters ending in .zip,"
                    + " .tar.gz or .tgz (the name tells the archive format)");
        }
        String shownName = name;
        ArchiveFormat format = ArchiveFormat.ofFileName(name).orElseThrow(() -> ApiException.invalid("file",
                "file '" + shownName + "' is neither .zip nor .tar.gz/.tgz; upload the package as a zip or gzip-compressed"
                        + " tar archive"));
        Path spool = null;
        try {
            spool = Files.createTempFile("cloudtask-package-", ".upload");
            Spooled spooled = spool(content, spool, format, name);
            Path spooledFile = spool;
            String uploadedName = name;
            PackageVersion[] created = new PackageVersion[1];
            String cluster = transactions.executeWrite(status -> {
                PackageStore.LockedTask task = store.lockLiveTask(taskId).orElseThrow(() -> taskNotFound(taskId));
                Instant now = clock.instant();
                store.storeBlob(spooled.sha256(), spooled.size(), format, spooledFile, now);
                created[0] = new PackageVersion(taskId, store.nextVersion(taskId), spooled.sha256(), uploadedName,
                        format, spooled.size(), now, null);
                makeCurrent(task, created[0], now);
                return task.cluster();
            });
            afterChange(cluster);
            log.info("task {}: package version {} ({}, {} bytes, sha256 {})", taskId, created[0].version(),
                    uploadedName, spooled.size(), spooled.sha256());
            return PackageView.of(created[0], true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot spool the upload to a temporary file", e);
        } finally {
            deleteSpool(spool);
        }
    }

    /** The task's kept versions, newest first. */
    public PackageList list(UUID taskId) {
        OptionalLong current = requireLiveTask(taskId);
        List<PackageView> versions = store.versions(taskId).stream()
                .map(v -> PackageView.of(v, current.isPresent() && current.getAsLong() == v.version()))
                .toList();
        return new PackageList(current.isPresent() ? current.getAsLong() : null, versions);
    }

    /** One kept version of a live task. */
    public PackageView version(UUID taskId, long version) {
        PackageVersion stored = requireVersion(taskId, version);
        return PackageView.of(stored, requireLiveTask(taskId).equals(OptionalLong.of(version)));
    }

    /** The content of a kept version, read chunk by chunk as the caller reads the stream. */
    public InputStream content(UUID taskId, long version) {
        PackageVersion stored = requireVersion(taskId, version);
        return new ChunkInputStream(store, stored.sha256(), stored.sizeBytes());
    }

    /**
     * Makes an older version current again, as a new version (with {@code revertedFrom}) so the
     * history reads in order and the current version is always the newest. Reverting to the version
     * that is already current changes nothing.
     */
    public PackageView revert(UUID taskId, long version) {
        PackageVersion[] result = new PackageVersion[1];
        String cluster = transactions.executeWrite(status -> {
            PackageStore.LockedTask task = store.lockLiveTask(taskId).orElseThrow(() -> taskNotFound(taskId));
            PackageVersion target = store.version(taskId, version).orElseThrow(() -> versionNotFound(taskId, version));
            if (task.packageVersion() != null && task.packageVersion() == version) {
                result[0] = target;
                return null;
            }
            Instant now = clock.instant();
            result[0] = new PackageVersion(taskId, store.nextVersion(taskId), target.sha256(), target.fileName(),
                    target.format(), target.sizeBytes(), now, version);
            makeCurrent(task, result[0], now);
            return task.cluster();
        });
        if (cluster != null) {
            afterChange(cluster);
            log.info("task {}: package version {} restores version {}", taskId, result[0].version(), version);
        }
        return PackageView.of(result[0], true);
    }

    /** The task runs without a package from its next spec version; its versions stay for a revert. */
    public void remove(UUID taskId) {
        String cluster = transactions.executeWrite(status -> {
            PackageStore.LockedTask task = store.lockLiveTask(taskId).orElseThrow(() -> taskNotFound(taskId));
            if (task.packageVersion() == null) {
                return null;
            }
            store.setCurrent(taskId, null, clock.instant());
            return task.cluster();
        });
        if (cluster != null) {
            notifyChanged(cluster);
            log.info("task {}: package removed", taskId);
        }
    }

    /** Inside the caller's transaction, holding the task's row lock. */
    private void makeCurrent(PackageStore.LockedTask task, PackageVersion version, Instant now) {
        store.insertVersion(version);
        store.setCurrent(task.id(), version.version(), now);
        store.prune(task.id(), settings.getKeepVersions());
    }

    private void afterChange(String cluster) {
        notifyChanged(cluster);
        try {
            int deleted = store.deleteUnreferencedBlobs();
            if (deleted > 0) {
                log.info("deleted {} package blob(s) no version refers to any more", deleted);
            }
        } catch (RuntimeException e) {
            // Committed already; a concurrent upload may just have reused a blob. The next change sweeps again.
            log.warn("package blob clean-up failed: {}", e.toString());
        }
    }

    private void notifyChanged(String cluster) {
        for (TaskChangeListener listener : listeners) {
            try {
                listener.tasksChanged(cluster);
            } catch (RuntimeException e) {
                // The change is committed; the periodic reconcile publishes it if this signal failed.
                log.warn("task change signal failed for cluster {}: {}", cluster, e.toString());
            }
        }
    }

    private record Spooled(String sha256, long size) {}

    /** Copies the upload to {@code file}, hashing and counting, refusing it as soon as it passes the limit. */
    private Spooled spool(InputStream content, Path file, ArchiveFormat format, String name) throws IOException {
        MessageDigest digest = sha256();
        long limit = settings.getMaxSize();
        byte[] buffer = new byte[COPY_BUFFER_BYTES];
        byte[] head = new byte[ArchiveFormat.MAGIC_LENGTH];
        int headLength = 0;
        long size = 0;
        try (OutputStream out = Files.newOutputStream(file)) {
            int read;
            while ((read = readUpload(content, buffer, name)) != -1) {
                size += read;
                if (size > limit) {
                    throw tooLarge(name);
                }
                int headPart = Math.min(read, head.length - headLength);
                System.arraycopy(buffer, 0, head, headLength, headPart);
                headLength += headPart;
                digest.update(buffer, 0, read);
                out.write(buffer, 0, read);
            }
        }
        if (size == 0) {
            throw ApiException.invalid("file", "file '" + name + "' is empty; upload a zip or tar.gz archive");
        }
        if (!format.matches(head, headLength)) {
            throw ApiException.invalid("file", "file '" + name + "' is named as " + format.name()
                    + " but its content does not start with the " + format.name() + " signature ("
                    + format.magicText() + "); upload the archive itself, or name it after its real format");
        }
        return new Spooled(HexFormat.of().formatHex(digest.digest()), size);
    }

    /** Reads the client's bytes; a failure here is the upload's fault, not the server's. */
    private ApiException readFailure(String name, IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            // The HTTP server's own part limit sits just above ours; either way the file is too large.
            if (t instanceof ContentLengthExceededException) {
                return tooLarge(name);
            }
        }
        return new ApiException(ErrorKind.INVALID_ARGUMENT, "file", "the upload of '" + name + "' broke off before"
                + " its end (" + e.getMessage() + "); send it again", e);
    }

    private int readUpload(InputStream content, byte[] buffer, String name) {
        try {
            return content.read(buffer);
        } catch (IOException e) {
            throw readFailure(name, e);
        }
    }

    private ApiException tooLarge(String name) {
        return new ApiException(ErrorKind.PAYLOAD_TOO_LARGE, "file", "package '" + name + "' is larger than the limit"
                + " of " + settings.getMaxSize() + " bytes (" + PackageSettings.MAX_SIZE_KEY
                + "); make the package smaller or raise the setting");
    }

    private OptionalLong requireLiveTask(UUID taskId) {
        return store.liveTaskPackageVersion(taskId).orElseThrow(() -> taskNotFound(taskId));
    }

    private PackageVersion requireVersion(UUID taskId, long version) {
        requireLiveTask(taskId);
        return store.version(taskId, version).orElseThrow(() -> versionNotFound(taskId, version));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM offers no SHA-256", e);
        }
    }

    private static void deleteSpool(Path spool) {
        if (spool == null) {
            return;
        }
        try {
            Files.deleteIfExists(spool);
        } catch (IOException e) {
            log.warn("cannot delete the upload spool file {}: {}", spool, e.toString());
        }
    }

    private static ApiException taskNotFound(UUID taskId) {
        return ApiException.notFound("task " + taskId + " does not exist (or was deleted)");
    }

    private ApiException versionNotFound(UUID taskId, long version) {
        return ApiException.notFound("task " + taskId + " has no package version " + version
                + " (only the newest " + settings.getKeepVersions() + " are kept; GET /api/v1/tasks/" + taskId
                + "/packages lists them)");
    }
}
