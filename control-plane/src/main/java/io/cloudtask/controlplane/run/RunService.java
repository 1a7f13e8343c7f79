package io.cloudtask.controlplane.run;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.task.TaskService;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/** Reading runs and their output. Thread-safe. */
@Singleton
public class RunService {
    /** How much output a run's JSON view carries; the output endpoint serves all of it. */
    static final int OUTPUT_SHOWN_LIMIT = 1024 * 1024;
    private static final UUID LAST_ID = new UUID(-1L, -1L);
    private static final Instant FAR_FUTURE = Instant.parse("9999-01-01T00:00:00Z");

    private final RunRepository runs;
    private final TaskService tasks;
    private final TransactionOperations<Connection> transactions;

    RunService(RunRepository runs, TaskService tasks, TransactionOperations<Connection> transactions) {
        this.runs = runs;
        this.tasks = tasks;
        this.transactions = transactions;
    }

    /** One chunk of stored output. {@code stream} is "stdout", "stderr" or "marker" (a cut). */
    public record OutputPiece(long sequence, String stream, byte[] data) {}

    public RunPage listByTask(UUID taskId, String pageToken, int limit) {
        if (!tasks.everExisted(taskId)) {
            throw ApiException.notFound("task " + taskId + " does not exist");
        }
        return list(new RunFilter(taskId, null, null, null, null, null), pageToken, limit);
    }

    public RunPage list(RunFilter filter, String pageToken, int limit) {
        if (limit < 1 || limit > 1000) {
            throw ApiException.invalid("limit", "limit is " + limit + "; use a value from 1 to 1000");
        }
        if (filter.fireFrom() != null && filter.fireTo() != null && !filter.fireFrom().isBefore(filter.fireTo())) {
            throw ApiException.invalid("to", "the time range is empty: 'from' (" + filter.fireFrom()
                    + ") must be before 'to' (" + filter.fireTo() + ")");
        }
        Instant beforeFire = FAR_FUTURE;
        UUID beforeId = LAST_ID;
        if (pageToken != null && !pageToken.isEmpty()) {
            try {
                String[] parts = new String(Base64.getUrlDecoder().decode(pageToken), StandardCharsets.UTF_8).split("~", 2);
                beforeFire = Instant.parse(parts[0]);
                beforeId = UUID.fromString(parts[1]);
            } catch (RuntimeException e) {
                throw ApiException.invalid("pageToken", "pageToken '" + pageToken
                        + "' was not issued by this API; pass the nextPageToken of the previous page");
            }
        }
        List<RunRow> rows = runs.page(filter.taskId(), filter.cluster(), filter.agentId(),
                filter.status() == null ? null : filter.status().name(), filter.fireFrom(), filter.fireTo(),
                beforeFire, beforeId, limit + 1);
        String next = null;
        if (rows.size() > limit) {
            rows = rows.subList(0, limit);
            RunRow last = rows.get(limit - 1);
            next = Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((last.fireTime() + "~" + last.id()).getBytes(StandardCharsets.UTF_8));
        }
        return new RunPage(rows.stream().map(row -> view(row, null)).toList(), next);
    }

    public RunView get(UUID runId) {
        RunRow row = find(runId);
        byte[] output = join(pieces(row, -1, null, OUTPUT_SHOWN_LIMIT));
        return view(row, new String(output, StandardCharsets.UTF_8));
    }

    /** The run without its output (cheap: one row). */
    public RunView summary(UUID runId) {
        return view(find(runId), null);
    }

    /**
     * The run's output bytes in sequence order, optionally of one stream ("stdout" or "stderr"),
     * with a marker line where the output cap cut the middle.
     */
    public byte[] output(UUID runId, String stream) {
        return join(pieces(find(runId), -1, streamCode(stream), Long.MAX_VALUE));
    }

    /** Whether the run has ended (its output will not grow). */
    public boolean isFinished(UUID runId) {
        return find(runId).finishedAt() != null;
    }

    /** The run's current status name. */
    public String status(UUID runId) {
        return find(runId).status();
    }

    /** Stored output after {@code afterSequence}, in order, up to about {@code maxBytes}. */
    public List<OutputPiece> outputAfter(UUID runId, long afterSequence, long maxBytes) {
        return pieces(find(runId), afterSequence, null, maxBytes);
    }

    private RunRow find(UUID runId) {
        return runs.findById(runId).orElseThrow(() -> ApiException.notFound("run " + runId + " does not exist"));
    }

    private List<OutputPiece> pieces(RunRow run, long afterSequence, Short stream, long limit) {
        return transactions.executeRead(status -> {
            String sql = "SELECT sequence, stream, data FROM run_output_chunks WHERE run_id = ? AND sequence > ?"
                    + (stream == null ? "" : " AND stream = ?") + " ORDER BY sequence";
            List<OutputPiece> pieces = new ArrayList<>();
            long bytes = 0;
            boolean markerShown = false;
            try (PreparedStatement select = status.getConnection().prepareStatement(sql)) {
                select.setObject(1, run.id());
                select.setLong(2, afterSequence);
                if (stream != null) {
                    select.setShort(3, stream);
                }
                select.setFetchSize(64);
                try (ResultSet rows = select.executeQuery()) {
                    while (bytes < limit && rows.next()) {
                        long sequence = rows.getLong(1);
                        if (!markerShown && run.outputCutToSequence() != null && sequence > run.outputCutToSequence()
                                && afterSequence < run.outputCutFromSequence()) {
                            byte[] marker = ("\n[CloudTask: " + run.outputCutBytes() + " bytes of output cut here"
                                    + " by the output cap]\n").getBytes(StandardCharsets.UTF_8);
                            pieces.add(new OutputPiece(run.outputCutToSequence(), "marker", marker));
                            bytes += marker.length;
                            markerShown = true;
                        }
                        byte[] data = rows.getBytes(3);
                        if (bytes + data.length > limit) {
                            data = java.util.Arrays.copyOf(data, (int) (limit - bytes));
                        }
                        pieces.add(new OutputPiece(sequence, rows.getShort(2) == 2 ? "stderr" : "stdout", data));
                        bytes += data.length;
                    }
                }
            }
            return pieces;
        });
    }

    private static byte[] join(List<OutputPiece> pieces) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        pieces.forEach(piece -> out.writeBytes(piece.data()));
        return out.toByteArray();
    }

    private static Short streamCode(String stream) {
        if (stream == null || stream.isEmpty() || stream.equalsIgnoreCase("all")) {
            return null;
        }
        return switch (stream.toLowerCase(Locale.ROOT)) {
            case "stdout" -> (short) 1;
            case "stderr" -> (short) 2;
            default -> throw ApiException.invalid("stream", "stream '" + stream
                    + "' is not one of 'stdout', 'stderr' or 'all'");
        };
    }

    private static RunView view(RunRow row, String output) {
        return new RunView(row.id(), row.taskId(), row.cluster(), row.agentId(), row.fireTime(), row.attempt(),
                row.trigger(), row.commandId(), row.status(), row.specVersion(), row.startedAt(), row.finishedAt(), row.exitCode(),
                row.error(), row.outputBytes(), row.outputCutBytes() > 0, row.outputCutBytes(), output,
                row.finishedAt() != null);
    }
}
