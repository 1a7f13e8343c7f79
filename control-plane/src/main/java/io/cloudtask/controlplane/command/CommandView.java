package io.cloudtask.controlplane.command;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.UUID;

/**
 * A command as the API returns it. {@code runId} is the run a RUN_NOW starts (its first attempt;
 * readable at {@code /api/v1/runs/{runId}} once the agent reports it) or the run a KILL_RUN
 * kills. {@code message} is the agent's answer, or why the command expired.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record CommandView(
        UUID id,
        CommandKind kind,
        CommandState state,
        UUID taskId,
        UUID runId,
        String cluster,
        String agentId,
        @Nullable String message,
        Instant createdAt,
        Instant expiresAt,
        @Nullable Instant deliveredAt,
        @Nullable Instant answeredAt) {}
