package io.cloudtask.agent.schedule;

import io.cloudtask.proto.v1.TaskSpec;
import java.time.Instant;
import java.util.Objects;

/**
 * One fire of a task: the spec to run and the scheduled instant. A fire is identified by
 * (task id, fire time); the run id derives from it.
 */
public record Fire(String taskId, TaskSpec spec, Instant fireTime) {
    public Fire {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(fireTime, "fireTime");
    }
}
