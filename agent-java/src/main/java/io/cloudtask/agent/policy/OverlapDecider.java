package io.cloudtask.agent.policy;

import io.cloudtask.proto.v1.TaskSpec;
import java.time.Instant;
import java.util.List;

/**
 * Decides what a new fire of a task does given the fires of that task still in flight (running,
 * or waiting for a retry) and the fires already queued. Pure: no clock, no I/O, no threads.
 */
public final class OverlapDecider {
    private OverlapDecider() {}

    /** A fire of the task that has not ended: its current attempt's run id. */
    public record InFlight(String runId, Instant fireTime) {}

    /** What to do with the new fire. */
    public sealed interface Decision {}

    /** Start it now. */
    public record Start() implements Decision {}

    /** Queue it behind the running fire. */
    public record Enqueue() implements Decision {}

    /** Do not run it; report it SKIPPED with this reason. */
    public record Skip(String reason) implements Decision {}

    /** Kill these fires (report them KILLED with this error), then start the new one. */
    public record Replace(List<InFlight> victims, String error) implements Decision {}

    public static Decision decide(TaskPolicy policy, List<InFlight> inFlight, int queued, Instant fireTime) {
        if (inFlight.isEmpty() && queued == 0) {
            return new Start();
        }
        String busy = inFlight.isEmpty() ? "queued fires are waiting" : "previous run " + inFlight.get(0).runId() + " still running";
        TaskSpec.OverlapPolicy p = policy.overlap();
        return switch (p) {
            case OVERLAP_POLICY_QUEUE -> queued < policy.maxQueued()
                    ? new Enqueue()
                    : new Skip(busy + " and the queue is full (maxQueued " + policy.maxQueued() + ")");
            case OVERLAP_POLICY_PARALLEL -> inFlight.size() < policy.maxParallel()
                    ? new Start()
                    : new Skip(inFlight.size() + " runs still running (maxParallel " + policy.maxParallel() + "), the oldest "
                            + inFlight.get(0).runId());
            case OVERLAP_POLICY_REPLACE -> new Replace(List.copyOf(inFlight), "replaced by the fire at " + fireTime);
            default -> new Skip(busy);
        };
    }
}
