package io.cloudtask.controlplane.run;

import io.micronaut.core.annotation.Nullable;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.UUID;

/**
 * A run as the REST API returns it. {@code output} is the interleaved stdout and stderr decoded
 * as UTF-8 (invalid bytes replaced), present only when one run is read, and at most its first
 * MiB; the exact bytes are at {@code /api/v1/runs/{id}/output}. {@code outputTruncated} says the
 * middle of a run's output was cut by the output cap ({@code outputCutBytes} bytes; the stored
 * output holds a marker where). {@code commandId} names the RunNow command of a manual run.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record RunView(
        UUID id,
        UUID taskId,
        String cluster,
        String agentId,
        Instant fireTime,
        int attempt,
        String trigger,
        @Nullable UUID commandId,
        String status,
        long specVersion,
        @Nullable Instant startedAt,
        @Nullable Instant finishedAt,
        @Nullable Integer exitCode,
        @Nullable String error,
        long outputBytes,
        boolean outputTruncated,
        long outputCutBytes,
        @Nullable String output,
        boolean outputComplete) {}
