package io.cloudtask.protocol;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.UUID;

/**
 * Derives a run's id from its fire identity, as docs/agent-protocol.md specifies: a name-based
 * (version 3) UUID of {@code "{taskId}/{fireTime epoch millis}/{attempt}"} for a scheduled fire,
 * of {@code "{taskId}/command/{commandId}/{attempt}"} for a run asked for by a {@code RunNow}
 * command. A replayed or repeated fire therefore maps to the same run id, and a manual run never
 * shares one with a scheduled fire. Stateless and thread-safe.
 */
public final class RunIds {
    private RunIds() {}

    public static String runId(String taskId, Instant fireTime, int attempt) {
        return nameBased(taskId + "/" + fireTime.toEpochMilli() + "/" + attempt);
    }

    /**
     * The run id of one agent's copy of a broadcast fire: the name-based UUID of
     * {@code "{taskId}/{fireTime epoch millis}/{attempt}/agent/{agentId}"}.
     */
    public static String broadcastRunId(String taskId, Instant fireTime, int attempt, String agentId) {
        return nameBased(taskId + "/" + fireTime.toEpochMilli() + "/" + attempt + "/agent/" + agentId);
    }

    public static String commandRunId(String taskId, String commandId, int attempt) {
        return nameBased(taskId + "/command/" + commandId + "/" + attempt);
    }

    private static String nameBased(String name) {
        return UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).toString();
    }
}
