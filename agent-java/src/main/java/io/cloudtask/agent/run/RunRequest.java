package io.cloudtask.agent.run;

import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import java.time.Instant;
import java.util.Objects;

/** One run to start: the spec, the fire it belongs to, the attempt and why it runs. */
public record RunRequest(TaskSpec spec, Instant fireTime, int attempt, Trigger trigger) {
    public RunRequest {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(fireTime, "fireTime");
        Objects.requireNonNull(trigger, "trigger");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt starts at 1, was " + attempt);
        }
    }

    /** The first attempt of a scheduled fire. */
    public static RunRequest scheduled(TaskSpec spec, Instant fireTime) {
        return new RunRequest(spec, fireTime, 1, Trigger.TRIGGER_SCHEDULE);
    }

    public String taskId() {
        return spec.getTaskId();
    }

    /** The run id, derived from (task id, fire time, attempt) so a repeated fire maps to the same run. */
    public String runId() {
        return RunIds.runId(spec.getTaskId(), fireTime, attempt);
    }
}
