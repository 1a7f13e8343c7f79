package io.cloudtask.agent.run;

import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import java.time.Instant;
import java.util.Objects;

/**
 * One run to start: the spec, the fire it belongs to, the attempt and why it runs.
 *
 * @param manual the command a manual run answers, with its overrides; null for a scheduled fire
 */
public record RunRequest(TaskSpec spec, Instant fireTime, int attempt, Trigger trigger, ManualRun manual) {
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
        return new RunRequest(spec, fireTime, 1, Trigger.TRIGGER_SCHEDULE, null);
    }

    /** The first attempt of a run asked for by a RunNow command at {@code requestedAt}. */
    public static RunRequest manual(TaskSpec spec, Instant requestedAt, Trigger trigger, ManualRun manual) {
        Objects.requireNonNull(manual, "manual");
        return new RunRequest(spec, requestedAt, 1, trigger, manual);
    }

    /** The retry of this attempt: same fire, same overrides. */
    public RunRequest nextAttempt() {
        return new RunRequest(spec, fireTime, attempt + 1, Trigger.TRIGGER_RETRY, manual);
    }

    public String taskId() {
        return spec.getTaskId();
    }

    /** The RunNow command this run answers, or "" for a scheduled fire. */
    public String commandId() {
        return manual == null ? "" : manual.commandId();
    }

    /**
     * The run id, derived from the fire identity so a repeated fire maps to the same run: (task id,
     * fire time, attempt) for a scheduled fire, (task id, command id, attempt) for a manual one.
     */
    public String runId() {
        return manual == null ? RunIds.runId(spec.getTaskId(), fireTime, attempt)
                : RunIds.commandRunId(spec.getTaskId(), manual.commandId(), attempt);
    }
}
