package io.cloudtask.agent.schedule;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * Per-task "last fire" markers: the latest instant of a task this agent has handled (fired,
 * skipped or reported missed), or the instant it first saw the task. Misfires are counted from
 * the marker, so an agent restart catches up what it missed while a brand-new assignment replays
 * nothing. Implementations are called only under {@link LocalScheduler}'s lock.
 */
public interface FireMarkers {
    Map<String, Instant> loadAll();

    void save(String taskId, Instant marker);

    void delete(String taskId);

    /** Markers that live as long as the process (tests, or an agent without a work directory). */
    static FireMarkers inMemory() {
        Map<String, Instant> markers = new HashMap<>();
        return new FireMarkers() {
            @Override
            public Map<String, Instant> loadAll() {
                return Map.copyOf(markers);
            }

            @Override
            public void save(String taskId, Instant marker) {
                markers.put(taskId, marker);
            }

            @Override
            public void delete(String taskId) {
                markers.remove(taskId);
            }
        };
    }
}
