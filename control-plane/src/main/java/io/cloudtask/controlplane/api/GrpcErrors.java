package io.cloudtask.controlplane.api;

import io.grpc.Status;

/** The one place where gRPC adapters turn failures into statuses (see {@link ErrorKind}). */
public final class GrpcErrors {
    private GrpcErrors() {}

    public static Status toStatus(Throwable exception) {
        ApiException failure = Failures.classify(exception);
        String description = failure.field() == null ? failure.getMessage()
                : failure.field() + ": " + failure.getMessage();
        return Status.fromCode(failure.kind().grpcCode()).withDescription(description);
    }
}
