package io.cloudtask.controlplane.api;

import io.grpc.Status;

/**
 * The kinds of failure the API reports, with their HTTP status and gRPC code. REST and gRPC map
 * errors through this one table, so both surfaces agree on what a failure means and whether a
 * client may retry it.
 */
public enum ErrorKind {
    /** The caller's input is wrong; retrying the same request fails again. */
    INVALID_ARGUMENT(400, Status.Code.INVALID_ARGUMENT),
    /** The caller is not allowed in (an agent without a valid join token, or from a host not allowed). */
    PERMISSION_DENIED(403, Status.Code.PERMISSION_DENIED),
    NOT_FOUND(404, Status.Code.NOT_FOUND),
    /** The request conflicts with current state (a duplicate name, a stale version). */
    CONFLICT(409, Status.Code.ALREADY_EXISTS),
    /** The system is not in a state that allows this request; fix the state first. */
    FAILED_PRECONDITION(409, Status.Code.FAILED_PRECONDITION),
    PAYLOAD_TOO_LARGE(413, Status.Code.INVALID_ARGUMENT),
    /** A dependency (the database, ZooKeeper) is unreachable; retry with backoff. */
    UNAVAILABLE(503, Status.Code.UNAVAILABLE),
    INTERNAL(500, Status.Code.INTERNAL);

    private final int httpStatus;
    private final Status.Code grpcCode;

    ErrorKind(int httpStatus, Status.Code grpcCode) {
        this.httpStatus = httpStatus;
        this.grpcCode = grpcCode;
    }

    public int httpStatus() {
        return httpStatus;
    }

    public Status.Code grpcCode() {
        return grpcCode;
    }

    /** The one place that says which failures a client may retry unchanged. */
    public boolean retryable() {
        return this == UNAVAILABLE;
    }
}
