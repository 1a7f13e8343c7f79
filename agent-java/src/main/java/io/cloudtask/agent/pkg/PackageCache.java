package io.cloudtask.agent.pkg;

import io.cloudtask.proto.v1.TaskPackage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's task packages, by content: {@code {dir}/{sha256}/} holds an unpacked package and
 * exists only once complete (it is unpacked into {@code {dir}/.unpacking/} and renamed into place).
 * A download goes to {@code {dir}/.downloads/{sha256}.part}, resumes from that file's length after
 * a failure, and is verified against the sha256 and size before it is unpacked (a mismatch deletes
 * it). Concurrent requests for one package share one fetch.
 *
 * <p>Runs hold a {@link PackageDirectories.Lease}; {@link #retainOnly} deletes packages that no spec
 * the agent holds references and no lease or fetch uses.
 *
 * <p>Thread-safe. {@link #acquire} blocks (run supervisor threads call it); {@link #prefetch} hands
 * the work to the given executor; {@link #retainOnly} deletes on the calling thread.
 */
public final class PackageCache implements PackageDirectories {
    private static final Logger log = LoggerFactory.getLogger(PackageCache.class);
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final String DOWNLOADS = ".downloads";
    private static final String UNPACKING = ".unpacking";
    private static final String PART_SUFFIX = ".part";
    /** Fetch attempts of one package in a row, as long as each one makes progress. */
    private static final int MAX_RESUMES = 5;

    private final Path dir;
    private final PackageFetcher fetcher;
    private final long maxUnpackedBytes;
    private final Executor prefetchExecutor;
    private final Object lock = new Object();
    // Guarded by lock: how many leases and fetches use each package.
    private final Map<String, Integer> users = new HashMap<>();
    private final ConcurrentHashMap<String, CompletableFuture<Path>> fetches = new ConcurrentHashMap<>();
    private final AtomicLong unpackCounter = new AtomicLong();
    private final AtomicLong fetchCount = new AtomicLong();

    /**
     * @param maxUnpackedBytes the most bytes one package may hold once unpacked
     * @param prefetchExecutor runs {@link #prefetch} work (the agent uses one background thread)
     */
    public PackageCache(Path dir, PackageFetcher fetcher, long maxUnpackedBytes, Executor prefetchExecutor) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.fetcher = Objects.requireNonNull(fetcher, "fetcher");
        this.maxUnpackedBytes = maxUnpackedBytes;
        this.prefetchExecutor = Objects.requireNonNull(prefetchExecutor, "prefetchExecutor");
    }

    /** The directory a package unpacks to (whether or not it is there yet). */
    public Path directoryOf(String sha256) {
        return dir.resolve(sha256);
    }

    /** Whether the package is unpacked and ready. */
    public boolean holds(String sha256) {
        return isSha256(sha256) && Files.isDirectory(directoryOf(sha256));
    }

    /** How many downloads this cache has started (each fetch of a missing package counts once). */
    public long fetchCount() {
        return fetchCount.get();
    }

    @Override
    public Lease acquire(TaskPackage taskPackage) throws IOException {
        String sha256 = requireSha256(taskPackage);
        use(sha256);
        try {
            Path directory = ensure(taskPackage);
            return new HeldPackage(sha256, directory);
        } catch (IOException | RuntimeException e) {
            release(sha256);
            throw e;
        }
    }

    /** Starts fetching a package in the background unless it is already held; failures are logged. */
    public void prefetch(TaskPackage taskPackage) {
        if (!isSha256(taskPackage.getSha256()) || holds(taskPackage.getSha256())) {
            return;
        }
        String sha256 = taskPackage.getSha256();
        use(sha256);
        try {
            prefetchExecutor.execute(() -> {
                try {
                    ensure(taskPackage);
                } catch (IOException | RuntimeException e) {
                    log.warn("could not prefetch package {} (version {}); a run will try again: {}", sha256,
                            taskPackage.getVersion(), e.getMessage());
                } finally {
                    release(sha256);
                }
            });
        } catch (RejectedExecutionException e) {
            release(sha256);
            log.debug("not prefetching package {}: the agent is stopping", sha256);
        }
    }

    /**
     * Deletes every package, partial download and unpacking leftover that is not in {@code wanted}
     * and not in use by a run or a fetch.
     */
    public void retainOnly(Set<String> wanted) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        synchronized (lock) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
                for (Path entry : entries) {
                    String name = entry.getFileName().toString();
                    if (isSha256(name) && !wanted.contains(name) && !users.containsKey(name)) {
                        delete(entry, "package no task uses");
                    }
                }
            } catch (IOException e) {
                log.warn("cannot list the package directory {}: {}", dir, e.getMessage());
            }
            cleanScratch(dir.resolve(DOWNLOADS), wanted);
            cleanScratch(dir.resolve(UNPACKING), Set.of());
        }
    }

    private void cleanScratch(Path scratch, Set<String> wanted) {
        if (!Files.isDirectory(scratch)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(scratch)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                String sha256 = name.length() >= 64 ? name.substring(0, 64) : name;
                if (!users.containsKey(sha256) && !wanted.contains(sha256)) {
                    delete(entry, "leftover of an earlier fetch");
                }
            }
        } catch (IOException e) {
            log.warn("cannot list {}: {}", scratch, e.getMessage());
        }
    }

    private static void delete(Path path, String why) {
        try {
            Trees.deleteRecursively(path);
            log.info("deleted {} ({})", path, why);
        } catch (IOException e) {
            log.warn("cannot delete {} ({}): {}", path, why, e.getMessage());
        }
    }

    private void use(String sha256) {
        synchronized (lock) {
            users.merge(sha256, 1, Integer::sum);
        }
    }

    private void release(String sha256) {
        synchronized (lock) {
            users.computeIfPresent(sha256, (key, count) -> count == 1 ? null : count - 1);
        }
    }

    /** The unpacked directory, fetching and unpacking once however many callers ask at the same time. */
    private Path ensure(TaskPackage taskPackage) throws IOException {
        String sha256 = taskPackage.getSha256();
        Path target = directoryOf(sha256);
        if (Files.isDirectory(target)) {
            return target;
        }
        CompletableFuture<Path> mine = new CompletableFuture<>();
        CompletableFuture<Path> running = fetches.putIfAbsent(sha256, mine);
        if (running != null) {
            return await(running, sha256);
        }
        try {
            Path ready = obtain(taskPackage, target);
            mine.complete(ready);
            return ready;
        } catch (IOException | RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            fetches.remove(sha256, mine);
        }
    }

    private static Path await(CompletableFuture<Path> running, String sha256) throws IOException {
        try {
            return running.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for package " + sha256, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw new IOException(io.getMessage(), io);
            }
            throw new IOException("fetching package " + sha256 + " failed: " + e.getCause(), e.getCause());
        }
    }

    private Path obtain(TaskPackage taskPackage, Path target) throws IOException {
        if (Files.isDirectory(target)) {
            return target;
        }
        String sha256 = taskPackage.getSha256();
        Path part = download(taskPackage);
        Path unpacking = Files.createDirectories(dir.resolve(UNPACKING))
                .resolve(sha256 + "-" + unpackCounter.incrementAndGet());
        try {
            Trees.deleteRecursively(unpacking);
            Files.createDirectories(unpacking);
            SafeUnpacker.unpack(part, taskPackage.getFormat(), unpacking, maxUnpackedBytes);
        } catch (IOException e) {
            Trees.deleteRecursively(unpacking);
            // The verified content is what the control plane holds: fetching it again would fail the same way.
            Files.deleteIfExists(part);
            String what = "package " + sha256 + " (version " + taskPackage.getVersion() + ")";
            if (e instanceof UnsafeArchiveException) {
                throw new UnsafeArchiveException(what + " was refused: " + e.getMessage());
            }
            throw new IOException(what + " could not be unpacked: " + e.getMessage(), e);
        }
        try {
            Files.move(unpacking, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException e) {
            log.debug("package {} appeared while unpacking; keeping the one in place", sha256);
        } finally {
            Trees.deleteRecursively(unpacking);
        }
        Files.deleteIfExists(part);
        log.info("package {} (version {}) is ready in {}", sha256, taskPackage.getVersion(), target);
        return target;
    }

    /** The complete, verified archive in the downloads directory. */
    private Path download(TaskPackage taskPackage) throws IOException {
        String sha256 = taskPackage.getSha256();
        Path part = Files.createDirectories(dir.resolve(DOWNLOADS)).resolve(sha256 + PART_SUFFIX);
        long have = Files.exists(part) ? Files.size(part) : 0;
        if (have > taskPackage.getSizeBytes()) {
            Files.delete(part);
            have = 0;
        }
        if (have < taskPackage.getSizeBytes()) {
            fetchCount.incrementAndGet();
            for (int attempt = 1; ; attempt++) {
                log.info("fetching package {} (version {}, {} bytes) from byte {}", sha256, taskPackage.getVersion(),
                        taskPackage.getSizeBytes(), have);
                long[] written = {have};
                try {
                    fetchInto(part, taskPackage, written);
                    break;
                } catch (IOException e) {
                    // A broken stream that delivered something is worth resuming; a refusal or silence is not.
                    if (written[0] == have || attempt >= MAX_RESUMES) {
                        throw e;
                    }
                    log.info("fetching package {} broke off at byte {} ({}); resuming", sha256, written[0],
                            e.getMessage());
                    have = written[0];
                }
            }
        }
        verify(part, taskPackage);
        return part;
    }

    private void fetchInto(Path part, TaskPackage taskPackage, long[] written) throws IOException {
        String sha256 = taskPackage.getSha256();
        boolean tooLong = false;
        try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            fetcher.fetch(sha256, written[0], data -> {
                if (written[0] + data.size() > taskPackage.getSizeBytes()) {
                    throw new PackageTooLongException("package " + sha256 + " is longer than the "
                            + taskPackage.getSizeBytes() + " bytes its spec says");
                }
                data.writeTo(out);
                written[0] += data.size();
            });
        } catch (PackageTooLongException e) {
            tooLong = true;
            throw e;
        } finally {
            if (tooLong) {
                Files.deleteIfExists(part);
            }
        }
    }

    /** The control plane sent more than the spec's size: the partial file is worthless. */
    private static final class PackageTooLongException extends IOException {
        PackageTooLongException(String message) {
            super(message);
        }
    }

    private static void verify(Path part, TaskPackage taskPackage) throws IOException {
        long size = Files.size(part);
        String actual = sha256Of(part);
        if (size != taskPackage.getSizeBytes() || !actual.equals(taskPackage.getSha256())) {
            Files.deleteIfExists(part);
            throw new IOException("package " + taskPackage.getSha256() + " failed verification: the "
                    + size + " bytes received (of " + taskPackage.getSizeBytes() + ") have sha256 " + actual
                    + "; it was deleted and will be fetched again");
        }
    }

    private static String sha256Of(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM offers no SHA-256", e);
        }
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = Files.newInputStream(file)) {
            int read;
            while ((read = in.read(buffer)) != -1) {
                digest.update(buffer, 0, read);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static String requireSha256(TaskPackage taskPackage) throws IOException {
        if (!isSha256(taskPackage.getSha256())) {
            throw new IOException("the task's package has a malformed sha256 '" + taskPackage.getSha256()
                    + "' (64 lower-case hex digits expected)");
        }
        return taskPackage.getSha256();
    }

    static boolean isSha256(String value) {
        return SHA256_HEX.matcher(value).matches();
    }

    /** A lease that releases its package once. */
    private final class HeldPackage implements Lease {
        private final String sha256;
        private final Path directory;
        private final AtomicBoolean closed = new AtomicBoolean();

        HeldPackage(String sha256, Path directory) {
            this.sha256 = sha256;
            this.directory = directory;
        }

        @Override
        public Path directory() {
            return directory;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release(sha256);
            }
        }
    }
}
