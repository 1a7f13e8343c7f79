package io.cloudtask.controlplane.task;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.proto.v1.TaskSpec;
import java.util.List;
import java.util.Locale;

/**
 * Validates and normalises the run policies of a {@link TaskRequest}, and maps them into a
 * {@link TaskSpec}. Pure: no database, no clock. A field that does not apply to the chosen policy
 * (say {@code maxQueued} with {@code SKIP}) is rejected, like a schedule field of another type.
 */
final class RunPolicyValidator {
    static final List<String> OVERLAP_POLICIES = List.of("SKIP", "QUEUE", "PARALLEL", "REPLACE");
    static final List<String> MISFIRE_POLICIES = List.of("SKIP", "RUN_ONCE", "RUN_ALL");
    static final List<String> DELIVERY_POLICIES = List.of("STANDARD", "STRICT");
    static final String DEFAULT_DELIVERY = "STANDARD";
    static final String DEFAULT_OVERLAP = "SKIP";
    static final String DEFAULT_MISFIRE = "RUN_ONCE";
    static final int DEFAULT_MAX_QUEUED = 1;
    static final int DEFAULT_MAX_PARALLEL = 2;
    static final int DEFAULT_MAX_CATCH_UP = 10;
    static final int DEFAULT_MAX_ATTEMPTS = 1;
    static final long DEFAULT_INITIAL_DELAY_SECONDS = 10;
    static final long DEFAULT_MAX_DELAY_SECONDS = 300;
    static final long DEFAULT_KILL_GRACE_SECONDS = 5;
    static final int MAX_QUEUED = 100;
    static final int MAX_PARALLEL = 100;
    static final int MAX_CATCH_UP = 1000;
    static final int MAX_ATTEMPTS = 100;
    static final long MAX_DELAY_SECONDS = 24 * 3600;
    static final long MAX_KILL_GRACE_SECONDS = 3600;

    private RunPolicyValidator() {}

    static RunPolicies.Stored validate(RunPolicies.Overlap overlap, RunPolicies.Misfire misfire, RunPolicies.Retry retry,
            RunPolicies.Delivery delivery) {
        return new RunPolicies.Stored(overlap(overlap), misfire(misfire), retry(retry), delivery(delivery));
    }

    private static RunPolicies.Delivery delivery(RunPolicies.Delivery in) {
        return new RunPolicies.Delivery(policy("delivery.policy", in == null ? null : in.policy(), DEFAULT_DELIVERY,
                DELIVERY_POLICIES));
    }

    static long killGraceSeconds(Long value) {
        long seconds = value == null ? DEFAULT_KILL_GRACE_SECONDS : value;
        if (seconds < 0 || seconds > MAX_KILL_GRACE_SECONDS) {
            throw ApiException.invalid("killGraceSeconds", "killGraceSeconds is " + seconds
                    + "; give the seconds between SIGTERM and SIGKILL, 0 to " + MAX_KILL_GRACE_SECONDS
                    + " (default " + DEFAULT_KILL_GRACE_SECONDS + ")");
        }
        return seconds;
    }

    private static RunPolicies.Overlap overlap(RunPolicies.Overlap in) {
        if (in == null) {
            return new RunPolicies.Overlap(DEFAULT_OVERLAP, null, null);
        }
        String policy = policy("overlap.policy", in.policy(), DEFAULT_OVERLAP, OVERLAP_POLICIES);
        Integer maxQueued = onlyFor("overlap.maxQueued", in.maxQueued(), policy, "QUEUE", DEFAULT_MAX_QUEUED, MAX_QUEUED);
        Integer maxParallel = onlyFor("overlap.maxParallel", in.maxParallel(), policy, "PARALLEL", DEFAULT_MAX_PARALLEL, MAX_PARALLEL);
        return new RunPolicies.Overlap(policy, maxQueued, maxParallel);
    }

    private static RunPolicies.Misfire misfire(RunPolicies.Misfire in) {
        if (in == null) {
            return new RunPolicies.Misfire(DEFAULT_MISFIRE, null);
        }
        String policy = policy("misfire.policy", in.policy(), DEFAULT_MISFIRE, MISFIRE_POLICIES);
        Integer maxCatchUp = onlyFor("misfire.maxCatchUp", in.maxCatchUp(), policy, "RUN_ALL", DEFAULT_MAX_CATCH_UP, MAX_CATCH_UP);
        return new RunPolicies.Misfire(policy, maxCatchUp);
    }

    private static RunPolicies.Retry retry(RunPolicies.Retry in) {
        RunPolicies.Retry r = in == null ? new RunPolicies.Retry(null, null, null) : in;
        int maxAttempts = r.maxAttempts() == null ? DEFAULT_MAX_ATTEMPTS : r.maxAttempts();
        if (maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS) {
            throw ApiException.invalid("retry.maxAttempts", "retry.maxAttempts is " + maxAttempts
                    + "; give the attempts per fire including the first, 1 (no retry) to " + MAX_ATTEMPTS);
        }
        long initial = r.initialDelaySeconds() == null ? DEFAULT_INITIAL_DELAY_SECONDS : r.initialDelaySeconds();
        if (initial < 1 || initial > MAX_DELAY_SECONDS) {
            throw ApiException.invalid("retry.initialDelaySeconds", "retry.initialDelaySeconds is " + initial
                    + "; give 1 to " + MAX_DELAY_SECONDS + " seconds (default " + DEFAULT_INITIAL_DELAY_SECONDS + ")");
        }
        long max = r.maxDelaySeconds() == null ? Math.max(DEFAULT_MAX_DELAY_SECONDS, initial) : r.maxDelaySeconds();
        if (max < initial || max > MAX_DELAY_SECONDS) {
            throw ApiException.invalid("retry.maxDelaySeconds", "retry.maxDelaySeconds is " + max
                    + "; give at least retry.initialDelaySeconds (" + initial + ") and at most " + MAX_DELAY_SECONDS);
        }
        return new RunPolicies.Retry(maxAttempts, initial, max);
    }

    private static String policy(String field, String value, String fallback, List<String> allowed) {
        if (value == null) {
            return fallback;
        }
        String upper = value.strip().toUpperCase(Locale.ROOT);
        if (!allowed.contains(upper)) {
            throw ApiException.invalid(field, field + " '" + value + "' is not a policy: use one of "
                    + String.join(", ", allowed) + " (default " + fallback + ")");
        }
        return upper;
    }

    private static Integer onlyFor(String field, Integer value, String policy, String owner, int fallback, int limit) {
        if (!policy.equals(owner)) {
            if (value != null) {
                throw ApiException.invalid(field, field + " only applies to policy " + owner + "; remove it or set that policy");
            }
            return null;
        }
        int v = value == null ? fallback : value;
        if (v < 1 || v > limit) {
            throw ApiException.invalid(field, field + " is " + v + "; give 1 to " + limit + " (default " + fallback + ")");
        }
        return v;
    }

    /** Sets TaskSpec fields 11-19 and 23 from validated, stored policies. */
    static void toSpec(RunPolicies.Stored p, long killGraceSeconds, TaskSpec.Builder spec) {
        spec.setOverlapPolicy(TaskSpec.OverlapPolicy.valueOf("OVERLAP_POLICY_" + p.overlap().policy()));
        if (p.overlap().maxQueued() != null) {
            spec.setMaxQueued(p.overlap().maxQueued());
        }
        if (p.overlap().maxParallel() != null) {
            spec.setMaxParallel(p.overlap().maxParallel());
        }
        spec.setMisfirePolicy(TaskSpec.MisfirePolicy.valueOf("MISFIRE_POLICY_" + p.misfire().policy()));
        if (p.misfire().maxCatchUp() != null) {
            spec.setMaxCatchUp(p.misfire().maxCatchUp());
        }
        spec.setMaxAttempts(p.retry().maxAttempts())
                .setRetryInitialDelay(com.google.protobuf.Duration.newBuilder().setSeconds(p.retry().initialDelaySeconds()))
                .setRetryMaxDelay(com.google.protobuf.Duration.newBuilder().setSeconds(p.retry().maxDelaySeconds()))
                .setKillGrace(com.google.protobuf.Duration.newBuilder().setSeconds(killGraceSeconds))
                .setStrict(p.delivery().policy().equals("STRICT"));
    }
}
