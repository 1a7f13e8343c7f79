package io.cloudtask.protocol;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.UUID;

/**
 * Derives a run's id from its fire identity, as docs/agent-protocol.md specifies: a name-based
 * (version 3) UUID of {@code "{taskId}/{fireTime epoch millis}/{attempt}"}. A replayed or repeated
 * fire therefore maps to the same run id. Stateless and thread-safe.
 */
public final class RunIds {
    private RunIds() {}

    public static String runId(String taskId, Instant fireTime, int attempt) {
        String name = taskId + "/" + fireTime.toEpochMilli() + "/" + attempt;
        return UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).toString();
    }
}
