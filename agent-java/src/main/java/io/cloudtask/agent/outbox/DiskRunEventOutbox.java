package io.cloudtask.agent.outbox;

import io.cloudtask.agent.outbox.SpoolFormat.BadRecordException;
import io.cloudtask.agent.outbox.SpoolFormat.Reader;
import io.cloudtask.agent.outbox.SpoolFormat.Record;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.OutputChunk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's run-event outbox on disk: an append-only journal in {@code {work-dir}/spool/} that
 * survives agent crashes and restarts. The format is in {@link SpoolFormat}; the policies are
 * documented in docs/agent.md, "Spool". In short:
 *
 * <ul>
 *   <li><b>Segments.</b> Records go to the active segment {@code {first sequence, 20 digits}.seg};
 *       when it would exceed {@link Options#segmentBytes()} it is forced, closed (sealed) and a new
 *       one is started. Journal sequences continue from the last record (or the checkpoint, if
 *       higher) after a restart.
 *   <li><b>Durability.</b> Every record is written to the operating system at once, so an agent
 *       crash loses nothing. Appending a RunFinished waits until the active segment has been
 *       forced past it before {@link #append} returns (group commit: the force runs outside the
 *       journal lock, and one force covers every RunFinished appended before it started); sealed
 *       segments were forced when sealed; so a run whose RunFinished was appended survives even
 *       an operating-system crash, with all its events.
 *       Other records are forced at most every {@link Options#flushInterval()} (on the next append
 *       after it elapsed).
 *   <li><b>Acks.</b> {@link #acknowledge} writes {@code checkpoint} (temp file, force, atomic
 *       rename) and then deletes the sealed segments whose records are all acknowledged.
 *   <li><b>Recovery</b> ({@link #open}): reads the checkpoint, scans and CRC-checks every segment,
 *       truncates a torn tail (a crash mid-write) with a WARN, and serves every unacknowledged
 *       record again, oldest first.
 *   <li><b>Bound.</b> When a record would take the spool over {@link Options#maxBytes()}, sealed
 *       segments are compacted oldest first: each is rewritten (temp file + atomic rename) without
 *       its acknowledged records and without the output chunks of runs that are not running in this
 *       process (finished, or orphaned by a restart). RunStarted and RunFinished are never dropped
 *       (they may take the spool slightly over the bound); if nothing droppable is left, the new
 *       output chunk is refused ({@link #DROPPED}) so that reading a process's output never waits.
 *       Both kinds of drop are counted in {@link #stats()} and logged at WARN.
 *   <li><b>Memory.</b> Records live only on disk. The heap holds one entry per segment, one entry
 *       per (running run, segment) for the drop policy, and one read cursor;
 *       {@link Stats#indexEntries()} reports the count. Reads are bounded batches.
 * </ul>
 *
 * <p>Thread-safe. One lock guards the journal: appends (process-runner threads), reads and acks
 * (the gateway thread) are serialized, and disk writes are done under it. Appends therefore wait
 * for disk writes and, when the spool is full, for a compaction, but never for the network; the
 * appender of a RunFinished also waits for the group force, without holding the lock. The checkpoint of an ack is written outside that lock. Append listeners
 * run on the appending thread after the lock is released.
 *
 * <p>Lifecycle: the constructor does no I/O; {@link #open()} once (recovery), then use,
 * then {@link #close()}. A directory lock ({@code spool/lock}) keeps a second agent from using the
 * same spool.
 */
public final class DiskRunEventOutbox implements RunEventOutbox, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DiskRunEventOutbox.class);
    private static final Pattern SEGMENT_NAME = Pattern.compile("\\d{20}\\.seg");
    private static final String CHECKPOINT = "checkpoint";
    private static final String LOCK = "lock";

    /**
     * @param maxBytes the bound on the spool's size on disk (segments; the 20-byte checkpoint aside)
     * @param segmentBytes the size at which a segment is sealed and a new one started
     * @param flushInterval the longest time appended records other than RunFinished stay unforced
     *     (given further appends)
     */
    public record Options(long maxBytes, long segmentBytes, Duration flushInterval) {
        public static final long DEFAULT_MAX_BYTES = 1L << 30;
        public static final long MAX_SEGMENT_BYTES = 16L << 20;
        public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofMillis(500);

        public Options {
            if (maxBytes < 1) {
                throw new IllegalArgumentException("maxBytes must be positive, was " + maxBytes);
            }
            if (segmentBytes < 4096) {
                throw new IllegalArgumentException("segmentBytes must be at least 4096, was " + segmentBytes);
            }
            Objects.requireNonNull(flushInterval, "flushInterval");
            if (flushInterval.isNegative()) {
                throw new IllegalArgumentException("flushInterval must not be negative, was " + flushInterval);
            }
        }

        /**
         * Production options for a bound: segments of an eighth of it, between 64 KiB and 16 MiB
         * (so compaction always has sealed segments to work on), and the default flush interval.
         */
        public static Options forMaxBytes(long maxBytes) {
            return new Options(maxBytes, Math.max(64L << 10, Math.min(MAX_SEGMENT_BYTES, maxBytes / 8)),
                    DEFAULT_FLUSH_INTERVAL);
        }
    }

    /**
     * A snapshot of the spool's counters.
     *
     * @param diskBytes bytes of all segment files
     * @param segments number of segment files
     * @param droppedChunks output chunks dropped by the size bound since {@link #open()} (from
     *     finished runs by compaction, or refused new chunks of running runs)
     * @param droppedBytes output bytes (chunk data) of those chunks
     * @param forces number of fsyncs of segment data
     * @param compactions number of segment rewrites by the size bound
     * @param indexEntries entries the outbox holds in memory: segments, (running run, segment)
     *     pairs and running runs; independent of the number of records
     */
    public record Stats(long diskBytes, int segments, long lastSequence, long acknowledgedSequence,
                        long droppedChunks, long droppedBytes, long forces, long compactions, int indexEntries) {}

    private final Path dir;
    private final Options options;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Orders checkpoint writes; held without {@link #lock} so appends don't wait for the fsync. */
    private final Object checkpointLock = new Object();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    /** Group commit of RunFinished records: guards durableSequence and forcing. */
    private final Object durability = new Object();
    private long durableSequence;
    private boolean forcing;
    private volatile boolean directorySyncUnsupported;

    // Guarded by lock (the volatile ones are written under it and read without it).
    private final TreeMap<Long, Segment> segments = new TreeMap<>();
    private final Map<String, RunningRun> running = new HashMap<>();
    private Segment active;
    private volatile long lastSequence;
    private volatile long acknowledged;
    private long totalBytes;
    private boolean dirty;
    private long lastForceMillis;
    private ReadCursor cursor;
    /** Reused by every {@link #read} (under the lock); null until the first read. */
    private ByteBuffer readBuffer;
    private boolean opened;
    private boolean closed;
    private FileChannel lockChannel;
    private FileLock fileLock;
    private long droppedChunks;
    private long droppedBytes;
    private long forces;
    private long compactions;

    /** No I/O here: {@link #open()} reads the spool. */
    public DiskRunEventOutbox(Path dir, Options options, Clock clock) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.options = Objects.requireNonNull(options, "options");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Creates or recovers the spool: takes the directory lock, reads the checkpoint, scans every
     * segment (truncating a torn or corrupt tail with a WARN), deletes fully acknowledged segments
     * and continues the journal sequence. Call once, before anything else.
     *
     * @throws IOException when the directory cannot be used (in use by another agent, unreadable,
     *     a segment of an unknown format)
     */
    public void open() throws IOException {
        lock.lock();
        try {
            if (opened) {
                throw new IllegalStateException("spool " + dir + " already opened");
            }
            Files.createDirectories(dir);
            lockDirectory();
            deleteTemporaryFiles();
            long checkpoint = readCheckpoint();
            List<Path> files = segmentFiles();
            long previous = 0;
            for (int i = 0; i < files.size(); i++) {
                Segment segment = recover(files.get(i), previous, i == files.size() - 1);
                previous = Math.max(previous, segment.lastSequence);
                segments.put(segment.base, segment);
            }
            Segment newest = segments.isEmpty() ? null : segments.lastEntry().getValue();
            for (Segment segment : new ArrayList<>(segments.values())) {
                if (segment != newest && segment.lastSequence <= checkpoint) {
                    // Acknowledged before the crash, but not yet deleted.
                    Files.delete(segment.path);
                    segments.remove(segment.base);
                }
            }
            acknowledged = checkpoint;
            lastSequence = Math.max(Math.max(checkpoint, previous), newest == null ? 0 : newest.base - 1);
            if (newest != null && newest.bytes < options.segmentBytes()) {
                active = newest;
                active.channel = FileChannel.open(active.path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } else {
                active = createSegment(lastSequence + 1);
            }
            totalBytes = segments.values().stream().mapToLong(s -> s.bytes).sum();
            lastForceMillis = clock.millis();
            opened = true;
            log.info("spool {}: {} segment(s), {} bytes; journal sequences after {} up to {} are unacknowledged",
                    dir, segments.size(), totalBytes, acknowledged, lastSequence);
        } catch (IOException | RuntimeException e) {
            releaseDirectoryLock();
            throw e;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long append(AgentMessage event) {
        long sequence;
        lock.lock();
        try {
            sequence = appendLocked(event);
        } finally {
            lock.unlock();
        }
        if (sequence != DROPPED && SpoolFormat.kindOf(event) == SpoolFormat.KIND_FINISHED) {
            awaitDurable(sequence);
        }
        for (Runnable listener : listeners) {
            listener.run();
        }
        return sequence;
    }

    @Override
    public void appendAll(List<AgentMessage> events) {
        long lastFinished = 0;
        lock.lock();
        try {
            for (AgentMessage event : events) {
                long sequence = appendLocked(event);
                if (sequence != DROPPED && SpoolFormat.kindOf(event) == SpoolFormat.KIND_FINISHED) {
                    lastFinished = sequence;
                }
            }
        } finally {
            lock.unlock();
        }
        if (lastFinished != 0) {
            // One force covers every record written before it: the whole batch.
            awaitDurable(lastFinished);
        }
        for (Runnable listener : listeners) {
            listener.run();
        }
    }

    /** Writes one record; called with the lock held. @return its sequence, or DROPPED */
    private long appendLocked(AgentMessage event) {
        byte kind = SpoolFormat.kindOf(event);
        String runId = SpoolFormat.runIdOf(event);
        try {
            ensureOpen();
            long sequence = lastSequence + 1;
            ByteBuffer record = SpoolFormat.encode(sequence, kind,
                    event.toBuilder().setJournalSequence(sequence).build().toByteArray());
            int size = record.remaining();
            if (totalBytes + size > options.maxBytes() && !makeRoom(size) && kind == SpoolFormat.KIND_CHUNK) {
                refuse(runId, event.getOutputChunk());
                return DROPPED;
            }
            if (active.bytes > SpoolFormat.SEGMENT_HEADER_BYTES && active.bytes + size > options.segmentBytes()) {
                roll();
            }
            write(record);
            if (active.firstSequence == 0) {
                active.firstSequence = sequence;
            }
            active.lastSequence = sequence;
            active.bytes += size;
            totalBytes += size;
            lastSequence = sequence;
            track(kind, runId, size);
            if (kind != SpoolFormat.KIND_FINISHED && clock.millis() - lastForceMillis >= options.flushInterval().toMillis()) {
                force();
            }
            return sequence;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write run event to the spool in " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<AgentMessage> read(long afterSequence, int maxCount, long maxBytes) {
        lock.lock();
        try {
            if (closed) {
                return List.of();
            }
            ensureOpen();
            long from = Math.max(afterSequence, acknowledged);
            ReadCursor position = locate(from);
            if (position == null) {
                return List.of();
            }
            List<AgentMessage> batch = new ArrayList<>();
            long bytes = 0;
            long last = from;
            Segment segment = segments.get(position.segmentBase);
            long offset = position.offset;
            while (segment != null) {
                FileChannel channel = segment == active ? active.channel : FileChannel.open(segment.path, StandardOpenOption.READ);
                try {
                    Reader reader = new Reader(channel, offset, segment.bytes, readBuffer);
                    Record record;
                    while (batch.size() < maxCount && (record = reader.next(true)) != null) {
                        if (record.sequence() <= from) {
                            offset = record.end();
                            continue;
                        }
                        if (!batch.isEmpty() && bytes + record.message().length > maxBytes) {
                            break;
                        }
                        batch.add(record.parse());
                        bytes += record.message().length;
                        last = record.sequence();
                        offset = record.end();
                    }
                    if (offset < segment.bytes || batch.size() >= maxCount) {
                        break;
                    }
                    readBuffer = reader.buffer();
                } finally {
                    if (segment != active) {
                        channel.close();
                    }
                }
                Map.Entry<Long, Segment> next = segments.higherEntry(segment.base);
                if (next == null) {
                    break;
                }
                segment = next.getValue();
                offset = SpoolFormat.SEGMENT_HEADER_BYTES;
            }
            cursor = new ReadCursor(last, segment.base, segment.generation, offset);
            return batch;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the spool in " + dir + ": " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records the acknowledgement in the checkpoint, then deletes the sealed segments it covers. A
     * checkpoint that cannot be written is logged, and the acknowledgement still applies in memory:
     * at worst a restart sends some acknowledged events again, which the control plane ignores.
     */
    @Override
    public void acknowledge(long journalSequence) {
        synchronized (checkpointLock) {
            long target;
            lock.lock();
            try {
                if (closed || !opened) {
                    log.debug("ignoring acknowledgement {}: the spool is not open", journalSequence);
                    return;
                }
                // An ack above what this agent appended can only refer to sequences of an earlier life
                // that were lost in an operating-system crash; it must not swallow future events.
                target = Math.min(journalSequence, lastSequence);
                if (target <= acknowledged) {
                    return;
                }
            } finally {
                lock.unlock();
            }
            try {
                writeCheckpoint(target);
            } catch (IOException e) {
                log.warn("cannot record acknowledgement {} in {}: {}; after a restart some acknowledged run events"
                        + " may be sent again (the control plane ignores duplicates)", target, dir.resolve(CHECKPOINT),
                        e.toString());
            }
            lock.lock();
            try {
                if (closed) {
                    return;
                }
                acknowledged = target;
                for (Segment segment : new ArrayList<>(segments.values())) {
                    if (segment != active && segment.lastSequence <= target) {
                        deleteSegment(segment);
                    }
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    @Override
    public long lastSequence() {
        return lastSequence;
    }

    @Override
    public long acknowledgedSequence() {
        return acknowledged;
    }

    @Override
    public boolean hasUnacknowledged() {
        lock.lock();
        try {
            return holdsUnacknowledged();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void addAppendListener(Runnable listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public boolean awaitAcknowledged(Duration timeout) throws InterruptedException {
        lock.lock();
        try {
            long remaining = timeout.toNanos();
            while (holdsUnacknowledged()) {
                if (remaining <= 0 || closed) {
                    return false;
                }
                remaining = changed.awaitNanos(remaining);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** The spool's counters: size on disk, drops by the size bound, forces, in-memory index size. */
    public Stats stats() {
        lock.lock();
        try {
            int index = segments.size() + running.size();
            for (RunningRun run : running.values()) {
                index += run.chunkBytesBySegment.size();
            }
            return new Stats(totalBytes, segments.size(), lastSequence, acknowledged, droppedChunks, droppedBytes, forces,
                    compactions, index);
        } finally {
            lock.unlock();
        }
    }

    /** Forces what was appended, closes the active segment and releases the directory lock. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            changed.signalAll();
            if (active != null && active.channel != null) {
                try {
                    if (dirty) {
                        force();
                    }
                    active.channel.close();
                } catch (IOException e) {
                    log.warn("closing spool segment {} failed: {}; recovery checks it at the next start", active.path,
                            e.toString());
                }
            }
            releaseDirectoryLock();
        } finally {
            lock.unlock();
        }
    }

    // ---- appending -------------------------------------------------------------------------

    private void write(ByteBuffer record) throws IOException {
        long at = active.bytes;
        try {
            while (record.hasRemaining()) {
                at += active.channel.write(record, at);
            }
        } catch (IOException e) {
            // Positional writes continue at active.bytes, so a partial record is overwritten by the
            // next one; truncating keeps a shorter next record from leaving garbage behind it.
            try {
                active.channel.truncate(active.bytes);
            } catch (IOException truncation) {
                e.addSuppressed(truncation);
            }
            throw e;
        }
        dirty = true;
    }

    /**
     * Returns once the record with {@code sequence} is forced to disk. One caller at a time
     * forces the active segment (outside the journal lock); callers whose record was written
     * before that force began are covered by it and do not force again.
     */
    private void awaitDurable(long sequence) {
        while (true) {
            synchronized (durability) {
                while (forcing && durableSequence < sequence) {
                    try {
                        durability.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted waiting for the spool to reach the disk", e);
                    }
                }
                if (durableSequence >= sequence) {
                    return;
                }
                forcing = true;
            }
            long covered = 0;
            try {
                FileChannel channel;
                lock.lock();
                try {
                    ensureOpen();
                    covered = lastSequence;
                    channel = active.channel;
                    dirty = false;
                    lastForceMillis = clock.millis();
                    forces++;
                } finally {
                    lock.unlock();
                }
                channel.force(false);
            } catch (java.nio.channels.ClosedChannelException e) {
                // The segment was sealed (forced then) or compacted (rewritten and forced) meanwhile.
            } catch (IOException e) {
                covered = 0;
                throw new UncheckedIOException("cannot force the spool in " + dir + " to disk: " + e.getMessage(), e);
            } finally {
                synchronized (durability) {
                    durableSequence = Math.max(durableSequence, covered);
                    forcing = false;
                    durability.notifyAll();
                }
            }
        }
    }

    private void force() throws IOException {
        if (dirty) {
            active.channel.force(false);
            dirty = false;
            forces++;
        }
        lastForceMillis = clock.millis();
    }

    /**
     * Starts a new active segment and seals the old one (forced, trimmed to its records). The new
     * one is created first: if that fails, the old one simply stays active.
     */
    private void roll() throws IOException {
        Segment sealed = active;
        active = createSegment(lastSequence + 1);
        try {
            if (dirty) {
                sealed.channel.force(false);
                forces++;
            }
            dirty = false;
            sealed.channel.truncate(sealed.bytes);
        } finally {
            sealed.channel.close();
            sealed.channel = null;
        }
    }

    private Segment createSegment(long base) throws IOException {
        Path path = dir.resolve(String.format("%020d.seg", base));
        FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            ByteBuffer header = SpoolFormat.segmentHeader();
            while (header.hasRemaining()) {
                channel.write(header, SpoolFormat.SEGMENT_HEADER_BYTES - header.remaining());
            }
            channel.force(true);
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        // The file's directory entry must be durable too, or a forced RunFinished in it could vanish.
        syncDirectory();
        Segment segment = new Segment(base, path);
        segment.bytes = SpoolFormat.SEGMENT_HEADER_BYTES;
        segment.channel = channel;
        segments.put(base, segment);
        totalBytes += segment.bytes;
        return segment;
    }

    /** Keeps the drop policy's view of which output belongs to a running run. */
    private void track(byte kind, String runId, int size) {
        switch (kind) {
            case SpoolFormat.KIND_STARTED -> running.putIfAbsent(runId, new RunningRun());
            case SpoolFormat.KIND_CHUNK -> {
                active.chunkBytes += size;
                RunningRun run = running.get(runId);
                if (run != null) {
                    run.chunkBytesBySegment.merge(active.base, (long) size, Long::sum);
                }
            }
            default -> {
                RunningRun run = running.remove(runId);
                if (run != null && run.droppedChunks > 0) {
                    log.warn("run {} finished with {} output chunk(s) ({} bytes) dropped because the spool was full"
                            + " ({} bytes max); {} chunk(s) ({} bytes) dropped since the agent started", runId,
                            run.droppedChunks, run.droppedBytes, options.maxBytes(), droppedChunks, droppedBytes);
                }
            }
        }
    }

    /** Counts and logs a new output chunk refused because nothing droppable is left. */
    private void refuse(String runId, OutputChunk chunk) {
        droppedChunks++;
        droppedBytes += chunk.getData().size();
        RunningRun run = running.get(runId);
        if (run != null) {
            if (run.droppedChunks++ == 0) {
                log.warn("spool full ({} of {} bytes, only unacknowledged run starts, finishes and running runs' output"
                        + " left): dropping new output of running run {} until space frees up; {} chunk(s) ({} bytes)"
                        + " dropped since the agent started", totalBytes, options.maxBytes(), runId, droppedChunks,
                        droppedBytes);
            }
            run.droppedBytes += chunk.getData().size();
        } else if (Long.bitCount(droppedChunks) == 1) {
            // Output of a run this process did not start: powers of two keep the log short.
            log.warn("spool full ({} of {} bytes): dropping output of run {}; {} chunk(s) ({} bytes) dropped since the"
                    + " agent started", totalBytes, options.maxBytes(), runId, droppedChunks, droppedBytes);
        }
    }

    // ---- the size bound --------------------------------------------------------------------

    /**
     * Compacts segments, oldest first, until a record of {@code size} bytes fits under the bound.
     *
     * @return whether it fits now
     */
    private boolean makeRoom(int size) throws IOException {
        for (Segment segment : new ArrayList<>(segments.values())) {
            if (totalBytes + size <= options.maxBytes()) {
                break;
            }
            if (!hasDroppable(segment)) {
                continue;
            }
            try {
                if (segment == active) {
                    roll();
                }
                compact(segment);
            } catch (IOException e) {
                // Typically a full disk (a compaction needs room for one rewritten segment). The
                // record is still appended if it fits or is a start or finish; else it is refused.
                log.warn("spool compaction of {} failed: {}", segment.path.getFileName(), e.toString());
                break;
            }
        }
        return totalBytes + size <= options.maxBytes();
    }

    private boolean hasDroppable(Segment segment) {
        if (segment.lastSequence == 0) {
            return false;
        }
        if (segment.firstSequence <= acknowledged) {
            return true;
        }
        long runningBytes = 0;
        for (RunningRun run : running.values()) {
            runningBytes += run.chunkBytesBySegment.getOrDefault(segment.base, 0L);
        }
        return segment.chunkBytes > runningBytes;
    }

    /**
     * Rewrites a sealed segment without its acknowledged records and without the output chunks of
     * runs that are not running: written to a temp file, forced, then renamed over the segment, so a
     * crash leaves either the old or the new segment, both valid.
     */
    private void compact(Segment segment) throws IOException {
        Path temp = dir.resolve(segment.path.getFileName() + ".tmp");
        Map<String, Long> keptRunningBytes = new HashMap<>();
        long first = 0;
        long last = 0;
        long keptChunkBytes = 0;
        long written = SpoolFormat.SEGMENT_HEADER_BYTES;
        long chunks = 0;
        long chunkDataBytes = 0;
        try (FileChannel in = FileChannel.open(segment.path, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                     StandardOpenOption.WRITE)) {
            writeFully(out, SpoolFormat.segmentHeader(), 0);
            Reader reader = new Reader(in, SpoolFormat.SEGMENT_HEADER_BYTES, segment.bytes);
            Record record;
            while ((record = reader.next(true)) != null) {
                if (record.sequence() <= acknowledged) {
                    continue;
                }
                if (record.kind() == SpoolFormat.KIND_CHUNK) {
                    OutputChunk chunk = record.parse().getOutputChunk();
                    if (!running.containsKey(chunk.getRunId())) {
                        chunks++;
                        chunkDataBytes += chunk.getData().size();
                        continue;
                    }
                    keptRunningBytes.merge(chunk.getRunId(), (long) record.size(), Long::sum);
                    keptChunkBytes += record.size();
                }
                writeFully(out, SpoolFormat.encode(record.sequence(), record.kind(), record.message()), written);
                written += record.size();
                first = first == 0 ? record.sequence() : first;
                last = record.sequence();
            }
            out.force(true);
        } catch (IOException e) {
            // The segment itself is untouched; only the partial rewrite goes.
            try {
                Files.deleteIfExists(temp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        long freed = segment.bytes - written;
        if (first == 0) {
            Files.delete(segment.path);
            Files.delete(temp);
            segments.remove(segment.base);
            freed = segment.bytes;
        } else {
            Files.move(temp, segment.path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            syncDirectory();
            segment.firstSequence = first;
            segment.lastSequence = last;
            segment.bytes = written;
            segment.chunkBytes = keptChunkBytes;
            segment.generation++;
        }
        totalBytes -= freed;
        for (Map.Entry<String, RunningRun> run : running.entrySet()) {
            Long kept = keptRunningBytes.get(run.getKey());
            if (kept == null) {
                run.getValue().chunkBytesBySegment.remove(segment.base);
            } else {
                run.getValue().chunkBytesBySegment.put(segment.base, kept);
            }
        }
        compactions++;
        droppedChunks += chunks;
        droppedBytes += chunkDataBytes;
        if (chunks > 0) {
            log.warn("spool full ({} bytes max): dropped {} output chunk(s) ({} bytes) of finished runs from segment {};"
                    + " {} chunk(s) ({} bytes) dropped since the agent started", options.maxBytes(), chunks,
                    chunkDataBytes, segment.path.getFileName(), droppedChunks, droppedBytes);
        } else {
            log.debug("spool compaction of segment {} freed {} bytes of acknowledged records", segment.path.getFileName(),
                    freed);
        }
        // The last held records may be gone: waiters for "all acknowledged" re-check.
        changed.signalAll();
    }

    // ---- reading ---------------------------------------------------------------------------

    /** Where reading after {@code from} starts: the cached cursor if it is still valid, else a seek. */
    private ReadCursor locate(long from) throws IOException {
        ReadCursor c = cursor;
        if (c != null && c.afterSequence == from) {
            Segment segment = segments.get(c.segmentBase);
            if (segment != null && segment.generation == c.generation) {
                return c;
            }
        }
        for (Segment segment : segments.values()) {
            if (segment.lastSequence <= from) {
                continue;
            }
            if (segment.firstSequence > from) {
                return new ReadCursor(from, segment.base, segment.generation, SpoolFormat.SEGMENT_HEADER_BYTES);
            }
            FileChannel channel = segment == active ? active.channel : FileChannel.open(segment.path, StandardOpenOption.READ);
            try {
                // Identities only: a seek reads the headers, not the messages.
                Reader reader = new Reader(channel, SpoolFormat.SEGMENT_HEADER_BYTES, segment.bytes);
                Record record;
                while ((record = reader.next(false)) != null) {
                    if (record.sequence() > from) {
                        return new ReadCursor(from, segment.base, segment.generation, record.offset());
                    }
                }
            } finally {
                if (segment != active) {
                    channel.close();
                }
            }
        }
        return null;
    }

    // ---- acknowledgements ------------------------------------------------------------------

    private boolean holdsUnacknowledged() {
        for (Segment segment : segments.descendingMap().values()) {
            if (segment.lastSequence != 0) {
                return segment.lastSequence > acknowledged;
            }
        }
        return false;
    }

    private void writeCheckpoint(long acknowledgedSequence) throws IOException {
        Path temp = dir.resolve(CHECKPOINT + ".tmp");
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            writeFully(channel, SpoolFormat.encodeCheckpoint(acknowledgedSequence), 0);
            channel.force(true);
        }
        Files.move(temp, dir.resolve(CHECKPOINT), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory();
    }

    private void deleteSegment(Segment segment) {
        segments.remove(segment.base);
        totalBytes -= segment.bytes;
        for (RunningRun run : running.values()) {
            run.chunkBytesBySegment.remove(segment.base);
        }
        try {
            Files.deleteIfExists(segment.path);
        } catch (IOException e) {
            // Harmless: its records are covered by the checkpoint, so the next start deletes it.
            log.warn("cannot delete acknowledged spool segment {}: {}", segment.path, e.toString());
        }
    }

    // ---- recovery --------------------------------------------------------------------------

    private void lockDirectory() throws IOException {
        lockChannel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            fileLock = lockChannel.tryLock();
        } catch (OverlappingFileLockException e) {
            fileLock = null;
        }
        if (fileLock == null) {
            lockChannel.close();
            lockChannel = null;
            throw new IOException("the spool " + dir + " is in use by another agent: give each agent its own work"
                    + " directory (cloudtask.agent.work-dir)");
        }
    }

    private void releaseDirectoryLock() {
        if (lockChannel == null) {
            return;
        }
        try {
            // Closing the channel releases the lock.
            lockChannel.close();
        } catch (IOException e) {
            log.warn("cannot release the spool lock {}: {}", dir.resolve(LOCK), e.toString());
        }
        lockChannel = null;
        fileLock = null;
    }

    /** Leftovers of a crash during a checkpoint write or a compaction; the originals are intact. */
    private void deleteTemporaryFiles() throws IOException {
        try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, "*.tmp")) {
            for (Path temp : temps) {
                Files.delete(temp);
            }
        }
    }

    private long readCheckpoint() throws IOException {
        Path path = dir.resolve(CHECKPOINT);
        if (!Files.exists(path)) {
            return 0;
        }
        long value = SpoolFormat.decodeCheckpoint(Files.readAllBytes(path));
        if (value < 0) {
            log.warn("spool checkpoint {} is damaged; resending every run event the spool holds (the control plane"
                    + " ignores duplicates)", path);
            return 0;
        }
        return value;
    }

    private List<Path> segmentFiles() throws IOException {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                if (SEGMENT_NAME.matcher(entry.getFileName().toString()).matches()) {
                    files.add(entry);
                }
            }
        }
        // Zero-padded names sort by their first sequence.
        files.sort(null);
        return files;
    }

    /**
     * Scans one segment, checking every record, and cuts it at the first record that is not whole
     * and valid (a torn tail after a crash mid-write, or corruption).
     */
    private Segment recover(Path path, long previousSequence, boolean newest) throws IOException {
        String name = path.getFileName().toString();
        Segment segment = new Segment(Long.parseLong(name.substring(0, name.indexOf('.'))), path);
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = channel.size();
            if (size < SpoolFormat.SEGMENT_HEADER_BYTES) {
                // A crash right after the file was created.
                log.warn("spool segment {} has no complete header ({} bytes); starting it again empty", path, size);
                channel.truncate(0);
                writeFully(channel, SpoolFormat.segmentHeader(), 0);
                channel.force(true);
                segment.bytes = SpoolFormat.SEGMENT_HEADER_BYTES;
                return segment;
            }
            ByteBuffer header = ByteBuffer.allocate(SpoolFormat.SEGMENT_HEADER_BYTES);
            while (header.hasRemaining() && channel.read(header, header.position()) >= 0) {
                // Reads until the header is complete; size was checked above.
            }
            if (header.getInt(0) != SpoolFormat.SEGMENT_MAGIC || header.getInt(4) != SpoolFormat.VERSION) {
                throw new IOException("spool segment " + path + " is not a segment of this agent version (magic "
                        + Integer.toHexString(header.getInt(0)) + ", version " + header.getInt(4) + "): move the spool"
                        + " directory away, or start the agent version that wrote it");
            }
            Reader reader = new Reader(channel, SpoolFormat.SEGMENT_HEADER_BYTES, size);
            long previous = Math.max(previousSequence, segment.base - 1);
            long end = SpoolFormat.SEGMENT_HEADER_BYTES;
            try {
                Record record;
                while ((record = reader.next(true)) != null) {
                    if (record.sequence() <= previous) {
                        throw new BadRecordException(record.offset(), "journal sequence " + record.sequence()
                                + " does not follow " + previous);
                    }
                    previous = record.sequence();
                    segment.firstSequence = segment.firstSequence == 0 ? record.sequence() : segment.firstSequence;
                    segment.lastSequence = record.sequence();
                    if (record.kind() == SpoolFormat.KIND_CHUNK) {
                        segment.chunkBytes += record.size();
                    }
                    end = record.end();
                }
            } catch (BadRecordException e) {
                if (newest) {
                    log.warn("spool segment {}: {}; discarding the last {} byte(s), a record torn by a crash during a"
                            + " write", path, e.getMessage(), size - e.offset);
                } else {
                    log.warn("spool segment {} is corrupt: {}; discarding its last {} byte(s)", path, e.getMessage(),
                            size - e.offset);
                }
                channel.truncate(e.offset);
                channel.force(true);
                end = e.offset;
            }
            segment.bytes = end;
        }
        return segment;
    }

    // ---- helpers ---------------------------------------------------------------------------

    private void ensureOpen() {
        if (!opened) {
            throw new IllegalStateException("spool " + dir + " is not open: call open() first");
        }
        if (closed) {
            throw new IllegalStateException("spool " + dir + " is closed: the agent is stopping");
        }
    }

    private void syncDirectory() {
        if (directorySyncUnsupported) {
            return;
        }
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Windows cannot open a directory as a channel; its file system makes renames durable itself.
            directorySyncUnsupported = true;
            log.debug("cannot fsync spool directory {} ({}); relying on the file system for directory entries", dir,
                    e.toString());
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            at += channel.write(buffer, at);
        }
    }

    /** One segment file. Guarded by the outbox's lock. */
    private static final class Segment {
        final long base;
        final Path path;
        /** Sequence of the first and last record, 0 while the segment holds none. */
        long firstSequence;
        long lastSequence;
        long bytes;
        /** On-disk bytes of its output-chunk records. */
        long chunkBytes;
        /** Bumped by compaction: read cursors into an older version are invalid. */
        int generation;
        /** Open while the segment is active. */
        FileChannel channel;

        Segment(long base, Path path) {
            this.base = base;
            this.path = path;
        }
    }

    /** A run started in this process and not finished yet: its output is never dropped from the journal. */
    private static final class RunningRun {
        /** Bytes of its chunk records per segment base, so compaction knows what it may not drop. */
        final Map<Long, Long> chunkBytesBySegment = new HashMap<>();
        long droppedChunks;
        long droppedBytes;
    }

    /** Where the last read stopped, so the gateway's next batch continues without a seek. */
    private record ReadCursor(long afterSequence, long segmentBase, int generation, long offset) {}
}
