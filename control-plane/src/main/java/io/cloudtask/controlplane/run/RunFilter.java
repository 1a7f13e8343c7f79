package io.cloudtask.controlplane.run;

import io.micronaut.core.annotation.Nullable;
import java.time.Instant;
import java.util.UUID;

/** Which runs to list: every non-null criterion must hold. Fire times: from inclusive, to exclusive. */
public record RunFilter(
        @Nullable UUID taskId,
        @Nullable String cluster,
        @Nullable String agentId,
        @Nullable RunState status,
        @Nullable Instant fireFrom,
        @Nullable Instant fireTo) {}
