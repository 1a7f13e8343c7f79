package io.cloudtask.agent.run;

import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import java.time.Instant;
import java.util.Objects;

/**
 * One run to start: the spec, the fire it belongs to, the attempt and why it runs.
 *
 * @param manual the command a manual run answers, with its overrides; null for a scheduled fire
 * @param agentId the agent that runs it: part of the identity of a broadcast fire, where every
 *     matching agent runs its own copy ("" for a manual run, whose command is its identity)
 */
public record RunRequest(TaskSpec spec, Instant fireTime, int attempt, Trigger trigger, ManualRun manual,
        String agentId) {
    public RunRequest {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(fireTime, "fireTime");
        Objects.requireNonNull(trigger, "trigger");
        Objects.requireNonNull(agentId, "agentId");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt starts at 1, was " + attempt);
        }
        if (manual == null && spec.getPlacement().getKind() == PlacementKind.PLACEMENT_KIND_BROADCAST
                && agentId.isEmpty()) {
            throw new IllegalArgumentException("a fire of broadcast task " + spec.getTaskId()
                    + " needs the agent id: each agent's copy is a run of its own");
        }
    }

    /** The first attempt of a scheduled fire on agent {@code agentId}. */
    public static RunRequest scheduled(TaskSpec spec, Instant fireTime, String agentId) {
        return new RunRequest(spec, fireTime, 1, Trigger.TRIGGER_SCHEDULE, null, agentId);
    }

    /** The first attempt of a run asked for by a RunNow command at {@code requestedAt}. */
    public static RunRequest manual(TaskSpec spec, Instant requestedAt, Trigger trigger, ManualRun manual) {
        Objects.requireNonNull(manual, "manual");
        return new RunRequest(spec, requestedAt, 1, trigger, manual, "");
    }

    /** The retry of this attempt: same fire, same overrides, same agent. */
    public RunRequest nextAttempt() {
        return new RunRequest(spec, fireTime, attempt + 1, Trigger.TRIGGER_RETRY, manual, agentId);
    }

    /**
     * Whether this is one agent's copy of a scheduled fire of a broadcast task. A manual run of a
     * broadcast task is not: it runs once, on the agent the command went to, identified by the command.
     */
    public boolean broadcast() {
        return manual == null && spec.getPlacement().getKind() == PlacementKind.PLACEMENT_KIND_BROADCAST;
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
     * fire time, attempt) for a scheduled fire, plus the agent id for a broadcast one, (task id,
     * command id, attempt) for a manual one.
     */
    public String runId() {
        if (manual != null) {
            return RunIds.commandRunId(spec.getTaskId(), manual.commandId(), attempt);
        }
        return broadcast() ? RunIds.broadcastRunId(spec.getTaskId(), fireTime, attempt, agentId)
                : RunIds.runId(spec.getTaskId(), fireTime, attempt);
    }
}
