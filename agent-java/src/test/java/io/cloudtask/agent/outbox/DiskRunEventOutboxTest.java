package io.cloudtask.agent.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.cloudtask.agent.MutableClock;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spool on real files: format, acks, recovery, durability, the size bound, memory, concurrency. */
class DiskRunEventOutboxTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** Small segments, so a few dozen records span several of them. */
    private static final DiskRunEventOutbox.Options SMALL =
            new DiskRunEventOutbox.Options(64L << 20, 8 * 1024, Duration.ofMillis(500));

    @TempDir
    Path dir;

    private final List<DiskRunEventOutbox> opened = new ArrayList<>();

    @AfterEach
    void closeAll() {
        opened.forEach(DiskRunEventOutbox::close);
    }

    @Test
    void assignsStrictlyIncreasingSequencesAndReadsThemBackInBoundedBatches() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);

        assertThat(outbox.append(started("a"))).isEqualTo(1);
        assertThat(outbox.append(chunk("a", 0, 10))).isEqualTo(2);
        assertThat(outbox.append(finished("a"))).isEqualTo(3);

        assertThat(sequences(outbox.read(0, 10, Long.MAX_VALUE))).containsExactly(1L, 2L, 3L);
        assertThat(sequences(outbox.read(1, 10, Long.MAX_VALUE))).containsExactly(2L, 3L);
        assertThat(sequences(outbox.read(0, 2, Long.MAX_VALUE))).containsExactly(1L, 2L);
        // A byte bound still returns the first event, however large.
        assertThat(sequences(outbox.read(0, 10, 1))).containsExactly(1L);
        assertThat(outbox.read(0, 10, Long.MAX_VALUE).get(1).getOutputChunk()).isEqualTo(chunk("a", 0, 10).getOutputChunk());
        assertThat(outbox.lastSequence()).isEqualTo(3);
        assertThat(outbox.hasUnacknowledged()).isTrue();
    }

    @Test
    void refusesEventsThatAreNotRunEvents() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);

        assertThatThrownBy(() -> outbox.append(AgentMessage.newBuilder().setHello(Hello.getDefaultInstance()).build()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(outbox.lastSequence()).isZero();
    }

    @Test
    void anAckRecordsTheCheckpointAndDeletesTheSegmentsItCovers() throws Exception {
        DiskRunEventOutbox outbox = open(SMALL);
        List<Long> sequences = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            sequences.add(outbox.append(chunk("a", i, 1000)));
        }
        int segmentsBefore = segmentFiles().size();
        assertThat(segmentsBefore).isGreaterThan(3);

        long acked = sequences.get(24);
        outbox.acknowledge(acked);

        assertThat(outbox.acknowledgedSequence()).isEqualTo(acked);
        assertThat(sequences(outbox.read(0, 100, Long.MAX_VALUE))).isEqualTo(sequences.subList(25, 40));
        assertThat(segmentFiles().size()).isLessThan(segmentsBefore).isEqualTo(outbox.stats().segments());
        assertThat(Files.exists(dir.resolve("checkpoint"))).isTrue();
        assertThat(outbox.awaitAcknowledged(Duration.ofMillis(10))).isFalse();

        outbox.acknowledge(sequences.get(39));

        assertThat(outbox.hasUnacknowledged()).isFalse();
        assertThat(outbox.awaitAcknowledged(Duration.ofMillis(10))).isTrue();
        assertThat(outbox.read(0, 100, Long.MAX_VALUE)).isEmpty();
        // Only the active segment is left.
        assertThat(segmentFiles()).hasSize(1);
    }

    @Test
    void aRestartReplaysExactlyTheUnacknowledgedRecordsInOrder() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);
        List<AgentMessage> appended = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            AgentMessage event = i % 10 == 0 ? started("run-" + i) : chunk("run-" + (i / 10 * 10), i, 700);
            long sequence = outbox.append(event);
            appended.add(event.toBuilder().setJournalSequence(sequence).build());
        }
        outbox.acknowledge(appended.get(19).getJournalSequence());
        outbox.close();

        DiskRunEventOutbox reopened = open(SMALL);

        assertThat(reopened.acknowledgedSequence()).isEqualTo(appended.get(19).getJournalSequence());
        assertThat(readAll(reopened)).isEqualTo(appended.subList(20, 50));
    }

    @Test
    void aRunWhoseFinishWasAppendedIsReplayedAfterACrashWithoutAck(@TempDir Path crashed) throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);
        List<Long> sequences = new ArrayList<>();
        sequences.add(outbox.append(started("a")));
        for (int i = 0; i < 20; i++) {
            sequences.add(outbox.append(chunk("a", i, 1000)));
        }
        long forcesBefore = outbox.stats().forces();
        sequences.add(outbox.append(finished("a")));
        assertThat(outbox.stats().forces()).as("a RunFinished forces the segment").isGreaterThan(forcesBefore);

        // A crash: the files as they are, with the outbox neither closed nor acknowledged.
        copy(dir, crashed);
        DiskRunEventOutbox afterCrash = track(new DiskRunEventOutbox(crashed, SMALL, Clock.systemUTC()));
        afterCrash.open();
        assertThat(sequences(readAll(afterCrash))).isEqualTo(sequences);

        // A clean restart replays the same.
        outbox.close();
        assertThat(sequences(readAll(open(SMALL)))).isEqualTo(sequences);
    }

    @Test
    void sequencesContinueAcrossRestartsEvenWhenEverythingWasAcknowledged() throws IOException {
        DiskRunEventOutbox first = open(SMALL);
        for (int i = 0; i < 30; i++) {
            first.append(chunk("a", i, 1000));
        }
        first.acknowledge(30);
        first.close();

        DiskRunEventOutbox second = open(SMALL);
        assertThat(second.append(started("b"))).isEqualTo(31);
        second.close();

        // Even with every segment gone, the checkpoint keeps the sequence from going back.
        for (Path segment : segmentFiles()) {
            Files.delete(segment);
        }
        DiskRunEventOutbox third = open(SMALL);
        assertThat(third.lastSequence()).isEqualTo(30);
        assertThat(third.append(started("c"))).isEqualTo(31);
        assertThat(third.acknowledgedSequence()).isEqualTo(30);
    }

    @Test
    void aTornLastRecordIsTruncatedAwayAndTheRecordsBeforeItAreReplayed() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);
        outbox.append(started("a"));
        outbox.append(chunk("a", 0, 100));
        outbox.append(chunk("a", 1, 100));
        outbox.close();
        Path segment = newestSegment();
        long intact = Files.size(segment);
        // Half of the last record made it to disk.
        truncate(segment, intact - 60);

        DiskRunEventOutbox reopened = open(SMALL);

        assertThat(sequences(readAll(reopened))).containsExactly(1L, 2L);
        assertThat(Files.size(segment)).isLessThan(intact - 60);
        assertThat(reopened.append(chunk("a", 1, 100))).isEqualTo(3);
        assertThat(sequences(readAll(reopened))).containsExactly(1L, 2L, 3L);
    }

    @Test
    void aLastRecordWithABadChecksumOrATruncatedLengthIsDropped() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);
        outbox.append(started("a"));
        outbox.append(chunk("a", 0, 100));
        outbox.close();
        Path segment = newestSegment();
        long size = Files.size(segment);
        flipByte(segment, size - 10);
        // And three bytes of a length field after it.
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            channel.write(ByteBuffer.wrap(new byte[] {0, 0, 1}));
        }

        DiskRunEventOutbox reopened = open(SMALL);

        assertThat(sequences(readAll(reopened))).containsExactly(1L);
        assertThat(reopened.append(finished("a"))).isEqualTo(2);
        reopened.close();
        assertThat(sequences(readAll(open(SMALL)))).containsExactly(1L, 2L);
    }

    @Test
    void leftoversOfAnInterruptedCompactionOrCheckpointWriteAndADamagedCheckpointAreSafe() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);
        outbox.append(started("a"));
        outbox.append(finished("a"));
        outbox.acknowledge(1);
        outbox.close();
        Files.writeString(dir.resolve("00000000000000000001.seg.tmp"), "half a compaction");
        Files.writeString(dir.resolve("checkpoint.tmp"), "half a checkpoint");
        flipByte(dir.resolve("checkpoint"), 10);

        DiskRunEventOutbox reopened = open(SMALL);

        // Without a trustworthy checkpoint everything held is sent again; duplicates are harmless.
        assertThat(sequences(readAll(reopened))).containsExactly(1L, 2L);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(name -> name.endsWith(".tmp"));
        }
    }

    @Test
    void anAckAboveTheLastSequenceDoesNotSwallowLaterEvents() throws IOException {
        DiskRunEventOutbox outbox = open(SMALL);
        outbox.append(started("a"));

        outbox.acknowledge(1_000);

        assertThat(outbox.acknowledgedSequence()).isEqualTo(1);
        long next = outbox.append(finished("a"));
        assertThat(sequences(outbox.read(0, 10, Long.MAX_VALUE))).containsExactly(next);
    }

    @Test
    void aSecondOutboxOnTheSameDirectoryIsRefused() throws IOException {
        open(SMALL);
        DiskRunEventOutbox second = new DiskRunEventOutbox(dir, SMALL, Clock.systemUTC());

        assertThatThrownBy(second::open).isInstanceOf(IOException.class).hasMessageContaining("in use by another agent");
    }

    @Test
    void outputIsForcedAtMostEveryFlushIntervalAndARunFinishedAtOnce() throws IOException {
        MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
        DiskRunEventOutbox outbox = openWithFlushIntervalOfOneSecond(clock);

        outbox.append(started("a"));
        for (int i = 0; i < 10; i++) {
            outbox.append(chunk("a", i, 100));
        }
        assertThat(outbox.stats().forces()).isZero();

        clock.advance(Duration.ofSeconds(1));
        outbox.append(chunk("a", 10, 100));
        assertThat(outbox.stats().forces()).isEqualTo(1);

        outbox.append(finished("a"));
        assertThat(outbox.stats().forces()).isEqualTo(2);
    }

    @Test
    void manyRunFinishedAppendedTogetherShareOneForceAndKeepTheirOrder() throws IOException {
        MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
        DiskRunEventOutbox outbox = openWithFlushIntervalOfOneSecond(clock);
        List<AgentMessage> reports = new java.util.ArrayList<>();
        for (int i = 0; i < 500; i++) {
            reports.add(finished("skipped-" + i));
        }

        outbox.appendAll(reports);

        assertThat(outbox.stats().forces()).isEqualTo(1);
        assertThat(outbox.read(0, 1_000, Long.MAX_VALUE)).extracting(e -> e.getRunFinished().getRunId())
                .containsExactlyElementsOf(reports.stream().map(e -> e.getRunFinished().getRunId()).toList());
    }

    @Test
    void whenFullTheOldestOutputOfFinishedRunsIsDroppedFirstAndNeverAStartOrAFinish() throws IOException {
        DiskRunEventOutbox outbox = open(new DiskRunEventOutbox.Options(64 * 1024, 8 * 1024, Duration.ofMillis(500)));
        List<AgentMessage> appended = new ArrayList<>();
        for (String run : List.of("a", "b")) {
            appended.add(stored(outbox, started(run)));
            for (int i = 0; i < 20; i++) {
                appended.add(stored(outbox, chunk(run, i, 1024)));
            }
            appended.add(stored(outbox, finished(run)));
        }
        appended.add(stored(outbox, started("c")));
        for (int i = 0; i < 30; i++) {
            AgentMessage chunk = chunk("c", i, 1024);
            long sequence = outbox.append(chunk);
            assertThat(sequence).as("output of a running run is kept while finished output can go").isNotEqualTo(0);
            appended.add(chunk.toBuilder().setJournalSequence(sequence).build());
        }

        List<AgentMessage> held = readAll(outbox);

        List<AgentMessage> dropped = appended.stream().filter(e -> !held.contains(e)).toList();
        assertThat(dropped).isNotEmpty().allSatisfy(e -> {
            assertThat(e.hasOutputChunk()).isTrue();
            assertThat(e.getOutputChunk().getRunId()).isEqualTo("a");
        });
        // The oldest of a's chunks went first: what is left of a is a suffix.
        long firstKeptOfA = held.stream().filter(e -> e.hasOutputChunk() && e.getOutputChunk().getRunId().equals("a"))
                .mapToLong(e -> e.getOutputChunk().getSequence()).min().orElse(20);
        assertThat(dropped).extracting(e -> e.getOutputChunk().getSequence())
                .containsExactlyElementsOf(LongStream.range(0, firstKeptOfA).boxed().toList());
        assertThat(held.stream().filter(e -> e.hasRunStarted() || e.hasRunFinished()).count()).isEqualTo(5);
        assertThat(sequences(held)).isSorted();
        DiskRunEventOutbox.Stats stats = outbox.stats();
        assertThat(stats.droppedChunks()).isEqualTo(dropped.size());
        assertThat(stats.droppedBytes()).isEqualTo(dropped.size() * 1024L);
        assertThat(stats.diskBytes()).isLessThanOrEqualTo(64 * 1024).isEqualTo(spoolBytes());
    }

    @Test
    void whenOnlyRunningOutputIsLeftNewChunksAreRefusedAndCountedAndAFinishStillGoesIn() throws IOException {
        DiskRunEventOutbox outbox = open(new DiskRunEventOutbox.Options(32 * 1024, 8 * 1024, Duration.ofMillis(500)));
        outbox.append(started("a"));
        int kept = 0;
        int refused = 0;
        for (int i = 0; i < 60; i++) {
            if (outbox.append(chunk("a", i, 1024)) == RunEventOutbox.DROPPED) {
                refused++;
            } else {
                kept++;
                assertThat(refused).as("only the newest chunks are refused").isZero();
            }
        }
        assertThat(kept).isGreaterThan(20);
        assertThat(refused).isEqualTo(60 - kept);
        assertThat(outbox.stats().droppedChunks()).isEqualTo(refused);
        assertThat(outbox.stats().droppedBytes()).isEqualTo(refused * 1024L);

        long finish = outbox.append(finished("a"));
        assertThat(finish).isNotEqualTo(RunEventOutbox.DROPPED);

        // Now that a finished, its output makes room for the output of the next run.
        outbox.append(started("b"));
        assertThat(outbox.append(chunk("b", 0, 1024))).isNotEqualTo(RunEventOutbox.DROPPED);
        List<AgentMessage> held = readAll(outbox);
        assertThat(held.stream().filter(e -> e.hasRunStarted() || e.hasRunFinished()).count()).isEqualTo(3);
        assertThat(held.get(held.size() - 1).getOutputChunk().getRunId()).isEqualTo("b");
    }

    @Test
    void spoolingTwoHundredMebibytesWithoutAckKeepsTheInMemoryIndexSmall() throws IOException {
        DiskRunEventOutbox outbox = open(new DiskRunEventOutbox.Options(1L << 30, 16L << 20, Duration.ofSeconds(1)));
        outbox.append(started("big"));
        ByteString data = ByteString.copyFrom(new byte[32 * 1024]);
        int indexAfterFirstSegment = 0;
        int chunks = 200 * 32;
        for (int i = 0; i < chunks; i++) {
            long sequence = outbox.append(AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder()
                    .setRunId("big").setSequence(i).setData(data)).build());
            assertThat(sequence).isNotEqualTo(RunEventOutbox.DROPPED);
            if (i == 512) {
                indexAfterFirstSegment = outbox.stats().indexEntries();
            }
        }

        DiskRunEventOutbox.Stats stats = outbox.stats();
        assertThat(stats.diskBytes()).isGreaterThan(200L << 20);
        assertThat(stats.lastSequence()).isEqualTo(chunks + 1);
        // Per segment and per (running run, segment), never per record: 6400 records, 13 segments.
        assertThat(stats.segments()).isBetween(13, 14);
        assertThat(stats.indexEntries()).isLessThanOrEqualTo(2 * stats.segments() + 1);
        assertThat(indexAfterFirstSegment).isLessThanOrEqualTo(5);
        // Reads are bounded batches too.
        List<AgentMessage> batch = outbox.read(0, 1000, 1L << 20);
        assertThat(batch.stream().mapToLong(AgentMessage::getSerializedSize).sum()).isLessThanOrEqualTo(1L << 20);
        assertThat(sequences(outbox.read(batch.get(batch.size() - 1).getJournalSequence(), 1, Long.MAX_VALUE)))
                .containsExactly(batch.get(batch.size() - 1).getJournalSequence() + 1);
    }

    @Test
    void concurrentAppendsFromTwoProducersAreDrainedInSequenceOrderWhileAcked() throws Exception {
        DiskRunEventOutbox outbox = open(new DiskRunEventOutbox.Options(64L << 20, 64 * 1024, Duration.ofMillis(50)));
        int perProducer = 2000;
        Semaphore appended = new Semaphore(0);
        outbox.addAppendListener(appended::release);
        List<AgentMessage> drained = new CopyOnWriteArrayList<>();
        AtomicInteger producersDone = new AtomicInteger();
        ExecutorService threads = Executors.newFixedThreadPool(3);
        try {
            // The drainer plays the gateway: a cursor, bounded reads, an ack after every batch.
            Future<?> drainer = threads.submit(() -> {
                long cursor = 0;
                while (drained.size() < 2 * perProducer) {
                    appended.tryAcquire(50, TimeUnit.MILLISECONDS);
                    List<AgentMessage> batch = outbox.read(cursor, 64, 64 * 1024);
                    drained.addAll(batch);
                    if (!batch.isEmpty()) {
                        cursor = batch.get(batch.size() - 1).getJournalSequence();
                        outbox.acknowledge(cursor);
                    }
                }
                return null;
            });
            for (String run : List.of("p1", "p2")) {
                threads.submit(() -> {
                    for (int i = 0; i < perProducer; i++) {
                        outbox.append(chunk(run, i, 200));
                    }
                    producersDone.incrementAndGet();
                });
            }

            await().atMost(WAIT).until(() -> drained.size() >= 2 * perProducer);
            drainer.get(5, TimeUnit.SECONDS);
        } finally {
            threads.shutdownNow();
        }

        assertThat(producersDone).hasValue(2);
        assertThat(sequences(drained)).isEqualTo(LongStream.rangeClosed(1, 2L * perProducer).boxed().toList());
        for (String run : List.of("p1", "p2")) {
            assertThat(drained.stream().filter(e -> e.getOutputChunk().getRunId().equals(run))
                    .map(e -> e.getOutputChunk().getSequence()))
                    .isEqualTo(LongStream.range(0, perProducer).boxed().toList());
        }
        assertThat(outbox.hasUnacknowledged()).isFalse();
        assertThat(segmentFiles()).hasSize(1);
    }

    // ---- helpers ---------------------------------------------------------------------------

    private DiskRunEventOutbox open(DiskRunEventOutbox.Options options) throws IOException {
        DiskRunEventOutbox outbox = track(new DiskRunEventOutbox(dir, options, Clock.systemUTC()));
        outbox.open();
        return outbox;
    }

    private DiskRunEventOutbox track(DiskRunEventOutbox outbox) {
        opened.add(outbox);
        return outbox;
    }

    private DiskRunEventOutbox openWithFlushIntervalOfOneSecond(MutableClock clock) throws IOException {
        DiskRunEventOutbox outbox = track(new DiskRunEventOutbox(dir,
                new DiskRunEventOutbox.Options(64L << 20, 1L << 20, Duration.ofSeconds(1)), clock));
        outbox.open();
        return outbox;
    }

    private static AgentMessage stored(DiskRunEventOutbox outbox, AgentMessage event) {
        return event.toBuilder().setJournalSequence(outbox.append(event)).build();
    }

    private static List<AgentMessage> readAll(DiskRunEventOutbox outbox) {
        return outbox.read(0, Integer.MAX_VALUE, Long.MAX_VALUE);
    }

    private static List<Long> sequences(List<AgentMessage> events) {
        return events.stream().map(AgentMessage::getJournalSequence).toList();
    }

    private List<Path> segmentFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".seg")).sorted().toList();
        }
    }

    private Path newestSegment() throws IOException {
        List<Path> files = segmentFiles();
        return files.get(files.size() - 1);
    }

    private long spoolBytes() throws IOException {
        long total = 0;
        for (Path segment : segmentFiles()) {
            total += Files.size(segment);
        }
        return total;
    }

    private static void copy(Path source, Path target) throws IOException {
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : files.filter(p -> !p.getFileName().toString().equals("lock")).toList()) {
                Files.copy(file, target.resolve(file.getFileName()));
            }
        }
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(size);
        }
    }

    private static void flipByte(Path file, long offset) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[(int) offset] ^= 0x5A;
        Files.write(file, bytes);
    }

    private static AgentMessage started(String runId) {
        return AgentMessage.newBuilder().setRunStarted(RunStarted.newBuilder().setRunId(runId).setTaskId("t")).build();
    }

    private static AgentMessage chunk(String runId, long sequence, int bytes) {
        byte[] data = new byte[bytes];
        Arrays.fill(data, (byte) ('a' + sequence % 26));
        return AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder().setRunId(runId).setSequence(sequence)
                .setData(ByteString.copyFrom(data))).build();
    }

    private static AgentMessage finished(String runId) {
        return AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder().setRunId(runId).setTaskId("t")
                .setStatus(RunStatus.RUN_STATUS_SUCCEEDED)).build();
    }
}
