package io.cloudtask.agent.gateway;

import io.grpc.Status;
import java.util.EnumSet;
import java.util.Set;

/**
 * The one place that says which gRPC status codes mean "the same request will fail again until
 * someone fixes something" (the caller's fault, missing admission, or another agent using this
 * agent's id), following grpc's rules.
 * The agent still retries those, but only at the maximum backoff, and logs them as errors.
 */
public final class RetryableStatus {
    private static final Set<Status.Code> NON_RETRYABLE = EnumSet.of(
            Status.Code.INVALID_ARGUMENT,
            Status.Code.FAILED_PRECONDITION,
            Status.Code.PERMISSION_DENIED,
            Status.Code.UNAUTHENTICATED,
            // The control plane served a newer stream of the same agent id instead of this one
            // (docs/agent-protocol.md). With one stream per agent that means a second agent runs
            // under this id; reconnecting at once would only fight it.
            Status.Code.ABORTED);

    private RetryableStatus() {}

    /** Whether an immediate retry with backoff may succeed (UNAVAILABLE, a broken stream, ...). */
    public static boolean isRetryable(Status.Code code) {
        return !NON_RETRYABLE.contains(code);
    }
}
