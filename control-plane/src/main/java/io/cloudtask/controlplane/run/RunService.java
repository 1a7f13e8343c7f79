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

    public RunPage listByTask(UUID taskId, String pageToken, int limit) {
        if (limit < 1 || limit > 1000) {
            throw ApiException.invalid("limit", "limit is " + limit + "; use a value from 1 to 1000");
        }
        if (!tasks.everExisted(taskId)) {
            throw ApiException.notFound("task " + taskId + " does not exist");
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
        List<RunRow> rows = runs.pageOfTask(taskId, beforeFire, beforeId, limit + 1);
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
        RunRow row = runs.findById(runId).orElseThrow(() -> notFound(runId));
        byte[] output = output(runId, null, OUTPUT_SHOWN_LIMIT);
        return view(row, new String(output, StandardCharsets.UTF_8));
    }

    /**
     * The run's output bytes in sequence order, optionally of one stream ("stdout" or "stderr").
     */
    public byte[] output(UUID runId, String stream) {
        runs.findById(runId).orElseThrow(() -> notFound(runId));
        return output(runId, streamCode(stream), Integer.MAX_VALUE);
    }

    private byte[] output(UUID runId, Short stream, int limit) {
        return transactions.executeRead(status -> {
            String sql = "SELECT data FROM run_output_chunks WHERE run_id = ?"
                    + (stream == null ? "" : " AND stream = ?") + " ORDER BY sequence";
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (PreparedStatement select = status.getConnection().prepareStatement(sql)) {
                select.setObject(1, runId);
                if (stream != null) {
                    select.setShort(2, stream);
                }
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next() && out.size() < limit) {
                        byte[] data = rows.getBytes(1);
                        out.write(data, 0, Math.min(data.length, limit - out.size()));
                    }
                }
            }
            return out.toByteArray();
        });
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
        boolean complete = row.finishedAt() != null;
        return new RunView(row.id(), row.taskId(), row.cluster(), row.agentId(), row.fireTime(), row.attempt(),
                row.trigger(), row.status(), row.specVersion(), row.startedAt(), row.finishedAt(), row.exitCode(),
                row.error(), row.outputBytes(), output, complete);
    }

    private static ApiException notFound(UUID runId) {
        return ApiException.notFound("run " + runId + " does not exist");
    }
}
