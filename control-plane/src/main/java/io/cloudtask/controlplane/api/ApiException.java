package io.cloudtask.controlplane.api;

/**
 * A failure the caller should see, with the field it concerns (an API path such as
 * {@code schedules[0].expression}) and a message that says what to do. Thrown by application
 * services; turned into HTTP responses by {@link RestErrorHandler} and into gRPC statuses by the
 * gRPC adapters.
 */
public final class ApiException extends RuntimeException {
    private final ErrorKind kind;
    private final String field;

    public ApiException(ErrorKind kind, String field, String message) {
        this(kind, field, message, null);
    }

    public ApiException(ErrorKind kind, String field, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.field = field;
    }

    public static ApiException invalid(String field, String message) {
        return new ApiException(ErrorKind.INVALID_ARGUMENT, field, message);
    }

    public static ApiException notFound(String message) {
        return new ApiException(ErrorKind.NOT_FOUND, null, message);
    }

    public static ApiException conflict(String field, String message) {
        return new ApiException(ErrorKind.CONFLICT, field, message);
    }

    public ErrorKind kind() {
        return kind;
    }

    /** The offending field, or null when the error is not about one field. */
    public String field() {
        return field;
    }
}
