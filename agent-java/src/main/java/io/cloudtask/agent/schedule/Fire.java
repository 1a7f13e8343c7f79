package io.cloudtask.agent.schedule;

import io.cloudtask.proto.v1.TaskSpec;
import java.time.Instant;
import java.util.Objects;

/**
 * One fire of a task: the spec to run and the scheduled instant. A fire is identified by
 * (task id, fire time); the run id derives from it. A fire found late (the agent was down or
 * fenced) is {@link Kind#CATCH_UP} when the misfire policy runs it, {@link Kind#MISSED} when it
 * only reports it.
 */
public record Fire(String taskId, TaskSpec spec, Instant fireTime, Kind kind) {
    public enum Kind {
        /** An instant that fell due while the agent was firing. */
        SCHEDULED,
        /** A missed instant the misfire policy runs now. */
        CATCH_UP,
        /** A missed instant the misfire policy does not run: reported MISSED. */
        MISSED,
        /**
         * An instant that fell in the gap while the task moved to this agent: the previous agent
         * may have run it, so it is never run here, only reported MISSED — provisionally for a
         * standard task (a report from the agent that ran it replaces the record), after its
         * claim for a strict one.
         */
        HAND_OVER
    }

    public Fire {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(fireTime, "fireTime");
        Objects.requireNonNull(kind, "kind");
    }

    public Fire(String taskId, TaskSpec spec, Instant fireTime) {
        this(taskId, spec, fireTime, Kind.SCHEDULED);
    }
}
