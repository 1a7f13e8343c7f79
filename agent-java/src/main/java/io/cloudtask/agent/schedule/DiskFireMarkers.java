package io.cloudtask.agent.schedule;

import io.cloudtask.protocol.ZkLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link FireMarkers} in {@code {work-dir}/fires/{taskId}}: one ISO-8601 instant per file, written
 * to a temporary file and renamed atomically, never forced (losing the last second of markers to a
 * power cut at worst reports a fire twice, which run ids make harmless). A marker that cannot be
 * written or read is logged and treated as absent: the task then behaves as newly seen (no
 * catch-up), which is the safe side.
 *
 * <p>Writes are off the fire path: {@link #save} and {@link #delete} only record the latest value
 * per task, and one background thread ({@code cloudtask-fire-markers}) writes what changed every
 * {@link #FLUSH_INTERVAL} and on {@link #close}. A crash loses at most that interval of markers,
 * which makes a restarted agent report a fire of that second again (harmless) or catch up one
 * fewer. Writing on the timer thread cost a file create and rename per fire before any fire of
 * the same instant was handed off (100 simultaneous fires waited about 250 ms). Thread-safe.
 */
public final class DiskFireMarkers implements FireMarkers, AutoCloseable {
    static final java.time.Duration FLUSH_INTERVAL = java.time.Duration.ofSeconds(1);
    /** Pending writes: the latest marker per task, or empty for a delete. */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.Optional<Instant>> pending =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final Object flushLock = new Object();
    private volatile java.util.concurrent.ScheduledExecutorService flusher;
    private static final Logger log = LoggerFactory.getLogger(DiskFireMarkers.class);

    private final Path dir;

    public DiskFireMarkers(Path dir) {
        this.dir = Objects.requireNonNull(dir, "dir");
    }

    @Override
    public Map<String, Instant> loadAll() {
        Map<String, Instant> markers = new HashMap<>();
        if (!Files.isDirectory(dir)) {
            return markers;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                String taskId = file.getFileName().toString();
                if (!ZkLayout.isValidSegment(taskId) || taskId.endsWith(".tmp")) {
                    continue;
                }
                try {
                    markers.put(taskId, Instant.parse(Files.readString(file, StandardCharsets.UTF_8).strip()));
                } catch (IOException | DateTimeParseException e) {
                    log.warn("fire marker {} is unreadable ({}); the task catches up nothing missed so far", file, e.toString());
                }
            }
        } catch (IOException e) {
            log.warn("cannot list fire markers in {} ({}); missed fires are not caught up", dir, e.toString());
        }
        return markers;
    }

    @Override
    public void save(String taskId, Instant marker) {
        pending.put(taskId, java.util.Optional.of(marker));
        ensureFlusher();
    }

    /** Writes every pending marker now (the flusher thread, close, tests). */
    public void flush() {
        synchronized (flushLock) {
            if (pending.isEmpty()) {
                return;
            }
            ensureDirectory();
            for (String taskId : java.util.List.copyOf(pending.keySet())) {
                java.util.Optional<Instant> marker = pending.remove(taskId);
                if (marker == null) {
                    continue;
                }
                if (marker.isPresent()) {
                    write(taskId, marker.get());
                } else {
                    remove(taskId);
                }
            }
        }
    }

    @Override
    public void close() {
        java.util.concurrent.ScheduledExecutorService running = flusher;
        if (running != null) {
            running.shutdown();
        }
        flush();
    }

    private void ensureFlusher() {
        if (flusher == null) {
            synchronized (flushLock) {
                if (flusher == null) {
                    java.util.concurrent.ScheduledExecutorService created =
                            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(runnable -> {
                                Thread thread = new Thread(runnable, "cloudtask-fire-markers");
                                thread.setDaemon(true);
                                return thread;
                            });
                    created.scheduleWithFixedDelay(this::flushGuarded, FLUSH_INTERVAL.toMillis(),
                            FLUSH_INTERVAL.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
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

    /**
     * Once per flush, not per marker: createDirectories on an existing directory throws and catches
     * an exception inside, and a flush writes a marker for every task that fired.
     */
    private void ensureDirectory() {
        if (Files.isDirectory(dir)) {
            return;
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            log.warn("cannot create the fire marker directory {} ({}); after a restart tasks may not catch up", dir,
                    e.toString());
        }
    }

    private void write(String taskId, Instant marker) {
        if (!ZkLayout.isValidSegment(taskId)) {
            return;
        }
        Path target = dir.resolve(taskId);
        Path tmp = dir.resolve(taskId + ".tmp");
        try {
            Files.writeString(tmp, marker.toString(), StandardCharsets.UTF_8);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            log.warn("cannot write fire marker {} ({}); after a restart this task may not catch up", target, e.toString());
        }
    }

    @Override
    public void delete(String taskId) {
        pending.put(taskId, java.util.Optional.empty());
        ensureFlusher();
    }

    private void remove(String taskId) {
        if (!ZkLayout.isValidSegment(taskId)) {
            return;
        }
        try {
            Files.deleteIfExists(dir.resolve(taskId));
        } catch (IOException e) {
            log.warn("cannot delete fire marker of task {} ({})", taskId, e.toString());
        }
    }
}
