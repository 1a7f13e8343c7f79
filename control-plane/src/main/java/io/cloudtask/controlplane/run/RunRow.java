package io.cloudtask.controlplane.run;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.data.annotation.Id;
import io.micronaut.data.annotation.MappedEntity;
import java.time.Instant;
import java.util.UUID;

/** A row of {@code runs}: written only from what agents report (observed state). */
@MappedEntity("runs")
record RunRow(
        @Id UUID id,
        UUID taskId,
        String cluster,
        String agentId,
        Instant fireTime,
        int attempt,
        String trigger,
        String status,
        long specVersion,
        @Nullable Instant startedAt,
        @Nullable Instant finishedAt,
        @Nullable Integer exitCode,
        @Nullable String error,
        long outputBytes,
        long outputChunkCount,
        long outputStoredBytes,
        long outputCutBytes,
        @Nullable Long outputCutFromSequence,
        @Nullable Long outputCutToSequence,
        Instant createdAt,
        Instant updatedAt,
        @Nullable UUID commandId) {}
