package io.cloudtask.agent.policy;

import io.cloudtask.proto.v1.TaskSpec;
import java.time.Duration;

/**
 * A task's run policies with the protocol's defaults applied (unset fields of TaskSpec 11-19 mean
 * the documented defaults, so an older control plane that sends none gets SKIP, RUN_ONCE, one
 * attempt and a 5 s kill grace). Immutable.
 */
public record TaskPolicy(
        TaskSpec.OverlapPolicy overlap,
        int maxQueued,
        int maxParallel,
        TaskSpec.MisfirePolicy misfire,
        int maxCatchUp,
        int maxAttempts,
        Duration retryInitialDelay,
        Duration retryMaxDelay,
        Duration killGrace) {
    public static final Duration DEFAULT_KILL_GRACE = Duration.ofSeconds(5);
    public static final Duration DEFAULT_RETRY_INITIAL_DELAY = Duration.ofSeconds(10);
    public static final Duration DEFAULT_RETRY_MAX_DELAY = Duration.ofMinutes(5);

    public static TaskPolicy of(TaskSpec spec) {
        TaskSpec.OverlapPolicy overlap = switch (spec.getOverlapPolicy()) {
            case OVERLAP_POLICY_QUEUE, OVERLAP_POLICY_PARALLEL, OVERLAP_POLICY_REPLACE -> spec.getOverlapPolicy();
            default -> TaskSpec.OverlapPolicy.OVERLAP_POLICY_SKIP;
        };
        TaskSpec.MisfirePolicy misfire = switch (spec.getMisfirePolicy()) {
            case MISFIRE_POLICY_SKIP, MISFIRE_POLICY_RUN_ALL -> spec.getMisfirePolicy();
            default -> TaskSpec.MisfirePolicy.MISFIRE_POLICY_RUN_ONCE;
        };
        Duration initial = spec.hasRetryInitialDelay() ? duration(spec.getRetryInitialDelay()) : DEFAULT_RETRY_INITIAL_DELAY;
        Duration max = spec.hasRetryMaxDelay() ? duration(spec.getRetryMaxDelay()) : DEFAULT_RETRY_MAX_DELAY;
        return new TaskPolicy(overlap,
                positiveOr(spec.getMaxQueued(), 1),
                positiveOr(spec.getMaxParallel(), 2),
                misfire,
                positiveOr(spec.getMaxCatchUp(), 10),
                positiveOr(spec.getMaxAttempts(), 1),
                initial,
                // A cap below the initial delay would be a control-plane bug; keep the agent working.
                max.compareTo(initial) < 0 ? initial : max,
                spec.hasKillGrace() ? duration(spec.getKillGrace()) : DEFAULT_KILL_GRACE);
    }

    private static int positiveOr(int value, int fallback) {
        return value > 0 ? value : fallback;
    }

    private static Duration duration(com.google.protobuf.Duration d) {
        Duration result = Duration.ofSeconds(d.getSeconds(), d.getNanos());
        return result.isNegative() ? Duration.ZERO : result;
    }
}
