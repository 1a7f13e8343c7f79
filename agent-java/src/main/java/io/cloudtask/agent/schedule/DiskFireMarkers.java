package io.cloudtask.agent.schedule;

import io.cloudtask.protocol.ZkLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link FireMarkers} in one snapshot file, {@code {work-dir}/fires/@markers}: a line
 * {@code {taskId} {ISO-8601 instant}} per task, written whole to a temporary file and renamed
 * atomically, never forced (losing the last second of markers to a power cut at worst reports a
 * fire twice, which run ids make harmless). A marker that cannot be read is logged and treated as
 * absent: the task then behaves as newly seen (no catch-up), which is the safe side.
 *
 * <p>Writes are off the fire path: {@link #save} and {@link #delete} only record the latest value
 * per task, and one background thread ({@code cloudtask-fire-markers}) writes the snapshot when
 * something changed, every {@link #FLUSH_INTERVAL} and on {@link #close}. A crash loses at most
 * that interval of markers, which makes a restarted agent report a fire of that second again
 * (harmless) or catch up one fewer. One file per flush rather than one per task: a file per task
 * cost a create and a rename per task firing every second (3–4 % of a 2-core machine at 1,000
 * tasks). Markers of the earlier layout (a file {@code fires/{taskId}} per task) are read and
 * removed once the snapshot holds them. Thread-safe.
 */
public final class DiskFireMarkers implements FireMarkers, AutoCloseable {
    static final Duration FLUSH_INTERVAL = Duration.ofSeconds(1);
    /** '@' is not allowed in task ids, so no task's marker file of the earlier layout has this name. */
    static final String SNAPSHOT = "@markers";
    private static final String SNAPSHOT_TMP = SNAPSHOT + ".tmp";
    private static final Logger log = LoggerFactory.getLogger(DiskFireMarkers.class);

    private final Path dir;
    /** Changes not written yet: the latest marker per task, or empty for a delete. */
    private final ConcurrentHashMap<String, Optional<Instant>> pending = new ConcurrentHashMap<>();
    private final Object flushLock = new Object();
    private volatile ScheduledExecutorService flusher;
    // Guarded by flushLock: what the snapshot on disk holds, once read.
    private Map<String, Instant> written;
    /** Marker files of the earlier layout, deleted after the next snapshot is written. */
    private final List<Path> legacyFiles = new ArrayList<>();

    /** No I/O here: markers are read by {@link #loadAll} or the first flush. */
    public DiskFireMarkers(Path dir) {
        this.dir = Objects.requireNonNull(dir, "dir");
    }

    @Override
    public Map<String, Instant> loadAll() {
        synchronized (flushLock) {
            written = null;
            legacyFiles.clear();
            return Map.copyOf(read());
        }
    }

    @Override
    public void save(String taskId, Instant marker) {
        pending.put(taskId, Optional.of(marker));
        ensureFlusher();
    }

    @Override
    public void delete(String taskId) {
        pending.put(taskId, Optional.empty());
        ensureFlusher();
    }

    /** Writes the snapshot now if anything changed (the flusher thread, close, tests). */
    public void flush() {
        synchronized (flushLock) {
            if (pending.isEmpty()) {
                return;
            }
            Map<String, Instant> markers = read();
            for (String taskId : List.copyOf(pending.keySet())) {
                Optional<Instant> marker = pending.remove(taskId);
                if (marker == null || !ZkLayout.isValidSegment(taskId)) {
                    continue;
                }
                if (marker.isPresent()) {
                    markers.put(taskId, marker.get());
                } else {
                    markers.remove(taskId);
                }
            }
            if (writeSnapshot(markers)) {
                deleteLegacyFiles();
            }
        }
    }

    @Override
    public void close() {
        ScheduledExecutorService running = flusher;
        if (running != null) {
            running.shutdown();
        }
        flush();
    }

    /** The markers as on disk, read the first time (called under flushLock). */
    private Map<String, Instant> read() {
        if (written != null) {
            return written;
        }
        written = new HashMap<>();
        if (!Files.isDirectory(dir)) {
            return written;
        }
        readSnapshot();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                String taskId = file.getFileName().toString();
                if (!ZkLayout.isValidSegment(taskId) || taskId.endsWith(".tmp")) {
                    continue;
                }
                legacyFiles.add(file);
                try {
                    Instant marker = Instant.parse(Files.readString(file, StandardCharsets.UTF_8).strip());
                    written.merge(taskId, marker, (a, b) -> a.isAfter(b) ? a : b);
                } catch (IOException | DateTimeParseException e) {
                    log.warn("fire marker {} is unreadable ({}); the task catches up nothing missed so far", file,
                            e.toString());
                }
            }
        } catch (IOException e) {
            log.warn("cannot list fire markers in {} ({}); missed fires are not caught up", dir, e.toString());
        }
        return written;
    }

    private void readSnapshot() {
        Path snapshot = dir.resolve(SNAPSHOT);
        if (!Files.exists(snapshot)) {
            return;
        }
        try {
            for (String line : Files.readAllLines(snapshot, StandardCharsets.UTF_8)) {
                int space = line.indexOf(' ');
                String taskId = space < 0 ? "" : line.substring(0, space);
                try {
                    if (!ZkLayout.isValidSegment(taskId)) {
                        throw new IllegalArgumentException("no task id");
                    }
                    written.put(taskId, Instant.parse(line.substring(space + 1).strip()));
                } catch (IllegalArgumentException | DateTimeParseException e) {
                    log.warn("fire marker line '{}' in {} is unreadable ({}); that task catches up nothing missed so far",
                            line, snapshot, e.toString());
                }
            }
        } catch (IOException e) {
            log.warn("fire markers {} are unreadable ({}); missed fires are not caught up", snapshot, e.toString());
        }
    }

    /** @return whether the snapshot was written */
    private boolean writeSnapshot(Map<String, Instant> markers) {
        StringBuilder text = new StringBuilder(markers.size() * 64);
        markers.forEach((taskId, marker) -> text.append(taskId).append(' ').append(marker).append('\n'));
        Path target = dir.resolve(SNAPSHOT);
        Path tmp = dir.resolve(SNAPSHOT_TMP);
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
            }
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return true;
        } catch (IOException e) {
            log.warn("cannot write fire markers {} ({}); after a restart tasks may not catch up", target, e.toString());
            return false;
        }
    }

    private void deleteLegacyFiles() {
        for (Path file : legacyFiles) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                log.warn("cannot delete fire marker {} of the earlier layout ({})", file, e.toString());
            }
        }
        legacyFiles.clear();
    }

    private void ensureFlusher() {
        if (flusher == null) {
            synchronized (flushLock) {
                if (flusher == null) {
                    ScheduledExecutorService created = Executors.newSingleThreadScheduledExecutor(runnable -> {
                        Thread thread = new Thread(runnable, "cloudtask-fire-markers");
                        thread.setDaemon(true);
                        return thread;
                    });
                    created.scheduleWithFixedDelay(this::flushGuarded, FLUSH_INTERVAL.toMillis(),
                            FLUSH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
                    flusher = created;
                }
            }
        }
    }

    private void flushGuarded() {
        try {
            flush();
        } catch (RuntimeException e) {
            // Top of the flusher thread: log and keep flushing at the next interval.
            log.error("writing fire markers failed", e);
        }
    }
}
