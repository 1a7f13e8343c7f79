package io.cloudtask.agent.spec;

import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.protocol.ZkLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task specs the agent holds, kept in memory and persisted as {@code {dir}/{taskId}.pb} so that
 * after a restart the agent can fire its assigned tasks while the control plane is unreachable.
 * Files are written to a temporary name and renamed, so a crash never leaves a torn spec.
 *
 * <p>Thread-safe (one monitor); in the agent it is only used from the reconcile thread.
 */
public final class SpecCache {
    private static final Logger log = LoggerFactory.getLogger(SpecCache.class);
    private static final String SUFFIX = ".pb";

    private final Path dir;
    private final Map<String, TaskSpec> specs = new HashMap<>();

    public SpecCache(Path dir) {
        this.dir = dir;
    }

    /** Reads every persisted spec; unreadable files are logged and deleted (the spec is fetched again). */
    public synchronized void load() {
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
                for (Path file : files) {
                    String name = file.getFileName().toString();
                    String taskId = name.substring(0, name.length() - SUFFIX.length());
                    try {
                        TaskSpec spec = TaskSpec.parseFrom(Files.readAllBytes(file));
                        if (!spec.getTaskId().equals(taskId)) {
                            throw new IOException("holds task " + spec.getTaskId());
                        }
                        specs.put(taskId, spec);
                    } catch (IOException e) {
                        log.warn("dropping unreadable cached spec {}: {}", file, e.getMessage());
                        Files.deleteIfExists(file);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the spec cache in " + dir, e);
        }
        log.info("loaded {} cached task spec(s) from {}", specs.size(), dir);
    }

    public synchronized Optional<TaskSpec> get(String taskId) {
        return Optional.ofNullable(specs.get(taskId));
    }

    /** All cached specs by task id. */
    public synchronized Map<String, TaskSpec> snapshot() {
        return Map.copyOf(specs);
    }

    /**
     * Caches and persists a spec. A spec whose task id cannot be a file name is refused.
     *
     * @return whether the spec was stored
     */
    public synchronized boolean put(TaskSpec spec) {
        String taskId = spec.getTaskId();
        if (!ZkLayout.isValidSegment(taskId)) {
            log.warn("refusing a spec whose task id '{}' cannot be a file name", taskId);
            return false;
        }
        if (spec.equals(specs.get(taskId))) {
            return true;
        }
        specs.put(taskId, spec);
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, taskId, ".tmp");
            Files.write(tmp, spec.toByteArray());
            Files.move(tmp, file(taskId), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // Still usable from memory; only a restart without the control plane would miss it.
            log.warn("cannot persist the spec of task {} in {}: {}", taskId, dir, e.getMessage());
        }
        return true;
    }

    public synchronized void remove(String taskId) {
        if (specs.remove(taskId) != null) {
            deleteFile(taskId);
        }
    }

    /** Drops every spec whose task is not in {@code taskIds}. */
    public synchronized void retainOnly(Set<String> taskIds) {
        for (String taskId : Set.copyOf(specs.keySet())) {
            if (!taskIds.contains(taskId)) {
                remove(taskId);
            }
        }
    }

    private void deleteFile(String taskId) {
        try {
            Files.deleteIfExists(file(taskId));
        } catch (IOException e) {
            log.warn("cannot delete the cached spec of task {}: {}", taskId, e.getMessage());
        }
    }

    private Path file(String taskId) {
        return dir.resolve(taskId + SUFFIX);
    }
}
