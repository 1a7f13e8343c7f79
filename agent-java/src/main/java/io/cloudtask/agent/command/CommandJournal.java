package io.cloudtask.agent.command;

import io.cloudtask.proto.v1.CommandOutcome;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The commands this agent has acted on, with the outcome it answered, kept on disk so that a
 * command delivered again (the stream broke before the acknowledgement reached the control plane,
 * or the agent restarted) is answered the same way and never acted on twice: a RunNow starts at
 * most one run.
 *
 * <p>An entry is forced to disk before the command takes effect. Entries older than the retention
 * (far longer than any command lives on the control plane) are dropped when the journal opens.
 * Format: one line per command, {@code epochMillis TAB commandId TAB outcome TAB message}.
 * Thread-safe.
 */
public final class CommandJournal implements AutoCloseable {
    /** Far beyond the control plane's command time-to-live, so a redelivery is always recognised. */
    public static final Duration RETENTION = Duration.ofDays(2);
    private static final Logger log = LoggerFactory.getLogger(CommandJournal.class);

    /** What the agent answered to a command. */
    public record Entry(Instant handledAt, CommandOutcome outcome, String message) {}

    private final Path file;
    private final Clock clock;
    private final Map<String, Entry> entries = new HashMap<>();
    private FileChannel channel;

    public CommandJournal(Path directory, Clock clock) {
        this.file = Objects.requireNonNull(directory, "directory").resolve("handled-commands");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Reads the journal, drops expired entries and opens it for appending. */
    public synchronized void open() throws IOException {
        Files.createDirectories(file.getParent());
        Instant horizon = clock.instant().minus(RETENTION);
        StringBuilder kept = new StringBuilder();
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String[] parts = line.split("\t", 4);
                if (parts.length < 4) {
                    // A line cut short by a crash while appending: its command never took effect.
                    log.warn("ignoring a torn line in the command journal {}", file);
                    continue;
                }
                try {
                    Instant handledAt = Instant.ofEpochMilli(Long.parseLong(parts[0]));
                    if (handledAt.isAfter(horizon)) {
                        entries.put(parts[1], new Entry(handledAt, CommandOutcome.valueOf(parts[2]), parts[3]));
                        kept.append(line).append('\n');
                    }
                } catch (IllegalArgumentException e) {
                    log.warn("ignoring an unreadable line in the command journal {}: {}", file, e.getMessage());
                }
            }
        }
        Path compacted = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(compacted, kept, StandardCharsets.UTF_8);
        Files.move(compacted, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        channel.force(true);
    }

    /** The recorded answer to a command, if this agent already acted on it. */
    public synchronized Optional<Entry> find(String commandId) {
        return Optional.ofNullable(entries.get(commandId));
    }

    /**
     * Records the answer to a command, durably, before the caller acts on it.
     *
     * @throws UncheckedIOException when the disk refuses the write (the caller must not act)
     */
    public synchronized Entry record(String commandId, CommandOutcome outcome, String message) {
        if (channel == null) {
            throw new IllegalStateException("the command journal is not open");
        }
        Entry entry = new Entry(clock.instant(), outcome, message);
        String line = entry.handledAt().toEpochMilli() + "\t" + commandId + "\t" + outcome.name() + "\t"
                + message.replace('\n', ' ').replace('\r', ' ').replace('\t', ' ') + "\n";
        try {
            ByteBuffer bytes = ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record command " + commandId + " in " + file + ": " + e.getMessage(), e);
        }
        entries.put(commandId, entry);
        return entry;
    }

    @Override
    public synchronized void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                log.warn("closing the command journal {} failed: {}", file, e.toString());
            }
            channel = null;
        }
    }
}
