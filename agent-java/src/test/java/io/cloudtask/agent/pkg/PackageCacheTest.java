package io.cloudtask.agent.pkg;

import static io.cloudtask.agent.pkg.TestArchives.archive;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.cloudtask.proto.v1.PackageFormat;
import io.cloudtask.proto.v1.TaskPackage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

@EnabledOnOs({OS.LINUX, OS.MAC})
class PackageCacheTest {
    @TempDir
    Path dir;

    private final ExecutorService background = Executors.newCachedThreadPool();
    private final Store store = new Store();

    @AfterEach
    void stop() {
        background.shutdownNow();
    }

    /** An in-memory control plane: serves stored bytes in 100-byte pieces, optionally breaking off once. */
    static final class Store implements PackageFetcher {
        final Map<String, byte[]> packages = new ConcurrentHashMap<>();
        final List<Long> offsetsAsked = new CopyOnWriteArrayList<>();
        volatile long breakAfterBytesOnce = -1;
        volatile CountDownLatch gate;

        @Override
        public void fetch(String sha256, long offset, Sink sink) throws IOException {
            offsetsAsked.add(offset);
            CountDownLatch waitFor = gate;
            if (waitFor != null) {
                try {
                    waitFor.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            byte[] content = packages.get(sha256);
            if (content == null) {
                throw new IOException("NOT_FOUND " + sha256);
            }
            long sent = 0;
            for (int position = (int) offset; position < content.length; position += 100) {
                if (breakAfterBytesOnce >= 0 && sent >= breakAfterBytesOnce) {
                    breakAfterBytesOnce = -1;
                    throw new IOException("stream broke");
                }
                int length = Math.min(100, content.length - position);
                sink.write(ByteString.copyFrom(content, position, length));
                sent += length;
            }
        }
    }

    private PackageCache cache() {
        return new PackageCache(dir, store, 10L << 20, background);
    }

    private TaskPackage serve(byte[] archive) {
        String sha256 = TestArchives.sha256(archive);
        store.packages.put(sha256, archive);
        return TaskPackage.newBuilder().setSha256(sha256).setSizeBytes(archive.length)
                .setFormat(PackageFormat.PACKAGE_FORMAT_TAR_GZ).setVersion(1).build();
    }

    private static byte[] script(String text) {
        return archive().file("run.sh", "#!/bin/sh\necho " + text + "\n", 0755).tarGz();
    }

    @Test
    void fetchesVerifiesAndUnpacksOnceThenServesFromDisk() throws IOException {
        TaskPackage pkg = serve(script("one"));
        PackageCache cache = cache();

        try (PackageDirectories.Lease lease = cache.acquire(pkg)) {
            assertThat(lease.directory()).isEqualTo(dir.resolve(pkg.getSha256()));
            assertThat(lease.directory().resolve("run.sh")).content().contains("echo one");
        }
        try (PackageDirectories.Lease again = cache.acquire(pkg)) {
            assertThat(again.directory().resolve("run.sh")).exists();
        }

        assertThat(cache.fetchCount()).isEqualTo(1);
        assertThat(store.offsetsAsked).containsExactly(0L);
        assertThat(dir.resolve(".downloads").resolve(pkg.getSha256() + ".part")).doesNotExist();
    }

    @Test
    void contentThatDoesNotMatchItsSha256IsDeletedAndRefused() throws IOException {
        TaskPackage pkg = serve(script("genuine"));
        byte[] forged = script("forged!");
        store.packages.put(pkg.getSha256(), forged);
        TaskPackage sameSize = pkg.toBuilder().setSizeBytes(forged.length).build();

        assertThatThrownBy(() -> cache().acquire(sameSize))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("failed verification")
                .hasMessageContaining(pkg.getSha256());
        assertThat(dir.resolve(pkg.getSha256())).doesNotExist();
        assertThat(dir.resolve(".downloads").resolve(pkg.getSha256() + ".part")).doesNotExist();
    }

    @Test
    void resumesABrokenDownloadFromTheBytesAlreadyReceived() throws IOException {
        byte[] archive = archive().file("big.bin", randomBytes(5000), 0644).tarGz();
        TaskPackage pkg = serve(archive);
        store.breakAfterBytesOnce = 1000;

        try (PackageDirectories.Lease lease = cache().acquire(pkg)) {
            assertThat(lease.directory().resolve("big.bin")).exists();
        }

        assertThat(store.offsetsAsked).containsExactly(0L, 1000L);
    }

    @Test
    void resumesFromAPartialFileLeftByAnEarlierAgentProcess() throws IOException {
        byte[] archive = archive().file("big.bin", randomBytes(5000), 0644).tarGz();
        TaskPackage pkg = serve(archive);
        Path part = Files.createDirectories(dir.resolve(".downloads")).resolve(pkg.getSha256() + ".part");
        Files.write(part, java.util.Arrays.copyOf(archive, 700));

        try (PackageDirectories.Lease lease = cache().acquire(pkg)) {
            assertThat(lease.directory().resolve("big.bin")).exists();
        }

        assertThat(store.offsetsAsked).containsExactly(700L);
    }

    @Test
    void concurrentRunsOfOnePackageFetchItOnce() throws Exception {
        TaskPackage pkg = serve(script("shared"));
        PackageCache cache = cache();
        store.gate = new CountDownLatch(1);
        List<Future<Path>> runs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            runs.add(background.submit(() -> {
                try (PackageDirectories.Lease lease = cache.acquire(pkg)) {
                    return lease.directory();
                }
            }));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> store.offsetsAsked.size() == 1);
        store.gate.countDown();

        for (Future<Path> run : runs) {
            assertThat(run.get(10, TimeUnit.SECONDS)).isEqualTo(dir.resolve(pkg.getSha256()));
        }
        assertThat(store.offsetsAsked).hasSize(1);
        assertThat(cache.fetchCount()).isEqualTo(1);
    }

    @Test
    void anUnsafeArchiveFailsWithTheEntryAndLeavesNothingBehind() throws IOException {
        TaskPackage pkg = serve(archive().file("fine.txt", "ok", 0644).file("../../evil.sh", "x", 0755).tarGz());

        assertThatThrownBy(() -> cache().acquire(pkg))
                .isInstanceOf(UnsafeArchiveException.class)
                .hasMessageContaining("'../../evil.sh'")
                .hasMessageContaining("climbs out");

        assertThat(dir.resolve(pkg.getSha256())).doesNotExist();
        assertThat(listRecursively(dir)).allSatisfy(path -> assertThat(Files.isDirectory(path)).as(path.toString()).isTrue());
        assertThat(dir.getParent().resolve("evil.sh")).doesNotExist();
    }

    @Test
    void aPackageTheControlPlaneDoesNotHaveFailsWithItsReason() {
        TaskPackage missing = TaskPackage.newBuilder().setSha256("a".repeat(64)).setSizeBytes(10).build();

        assertThatThrownBy(() -> cache().acquire(missing)).isInstanceOf(IOException.class).hasMessageContaining("NOT_FOUND");
    }

    @Test
    void prefetchFetchesInTheBackground() {
        TaskPackage pkg = serve(script("early"));
        PackageCache cache = cache();

        cache.prefetch(pkg);

        await().atMost(Duration.ofSeconds(5)).until(() -> cache.holds(pkg.getSha256()));
        cache.prefetch(pkg);
        assertThat(store.offsetsAsked).hasSize(1);
    }

    @Test
    void cleanUpKeepsWhatSpecsNameOrRunsHoldAndDeletesTheRest() throws IOException {
        PackageCache cache = cache();
        TaskPackage wanted = serve(script("wanted"));
        TaskPackage running = serve(script("running"));
        TaskPackage unused = serve(script("unused"));
        cache.acquire(wanted).close();
        cache.acquire(unused).close();
        PackageDirectories.Lease lease = cache.acquire(running);
        Path leftover = Files.createDirectories(dir.resolve(".unpacking").resolve(unused.getSha256() + "-99"));

        cache.retainOnly(Set.of(wanted.getSha256()));

        assertThat(cache.holds(wanted.getSha256())).isTrue();
        assertThat(cache.holds(running.getSha256())).as("a run still uses it").isTrue();
        assertThat(cache.holds(unused.getSha256())).isFalse();
        assertThat(leftover).doesNotExist();

        lease.close();
        cache.retainOnly(Set.of(wanted.getSha256()));
        assertThat(cache.holds(running.getSha256())).isFalse();
    }

    @Test
    void cleanUpDeletesPackagesWhoseFilesWereMadeReadOnly() throws IOException {
        PackageCache cache = cache();
        TaskPackage pkg = serve(archive().file("sub/file.txt", "x", 0444).tarGz());
        Path unpacked;
        try (PackageDirectories.Lease lease = cache.acquire(pkg)) {
            unpacked = lease.directory();
        }
        unpacked.resolve("sub").toFile().setWritable(false);

        cache.retainOnly(Set.of());

        assertThat(unpacked).doesNotExist();
    }

    private static byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        new java.util.Random(length).nextBytes(bytes);
        return bytes;
    }

    private static List<Path> listRecursively(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            return paths.filter(p -> !p.equals(root)).toList();
        }
    }

}
