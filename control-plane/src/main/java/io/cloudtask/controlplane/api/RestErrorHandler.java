package io.cloudtask.controlplane.api;

import io.micronaut.context.annotation.Replaces;
import io.micronaut.context.annotation.Requires;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import io.micronaut.http.server.exceptions.response.Error;
import io.micronaut.http.server.exceptions.response.ErrorContext;
import io.micronaut.http.server.exceptions.response.ErrorResponseProcessor;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where REST maps failures to responses. Every error body is an {@link ApiError}.
 * Application failures arrive as exceptions here; failures the framework detects itself (a
 * malformed JSON body, an unknown route, a wrong method) arrive through
 * {@link FrameworkErrors}, which Micronaut's built-in handlers call.
 */
@Singleton
@Produces(MediaType.APPLICATION_JSON)
public class RestErrorHandler implements ExceptionHandler<Exception, HttpResponse<ApiError>> {
    private static final Logger log = LoggerFactory.getLogger(RestErrorHandler.class);

    @Override
    public HttpResponse<ApiError> handle(HttpRequest request, Exception exception) {
        ApiException mapped = Failures.classify(exception);
        if (mapped.kind() == ErrorKind.INTERNAL) {
            log.error("{} {} failed", request.getMethod(), request.getPath(), exception);
        } else if (mapped.kind() == ErrorKind.UNAVAILABLE) {
            log.warn("{} {} failed: {}", request.getMethod(), request.getPath(), rootMessage(exception));
        }
        return HttpResponse.<ApiError>status(HttpStatus.valueOf(mapped.kind().httpStatus()))
                .body(ApiError.of(mapped.kind(), mapped.getMessage(), mapped.field()));
    }

    private static String rootMessage(Throwable exception) {
        Throwable root = exception;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }

    /**
     * Gives the framework's own error responses (malformed JSON, unknown route, method not
     * allowed, unsupported media type) the same {@link ApiError} body.
     */
    @Singleton
    @Replaces(ErrorResponseProcessor.class)
    @Requires(classes = ErrorResponseProcessor.class)
    static class FrameworkErrors implements ErrorResponseProcessor<ApiError> {
        @Override
        public MutableHttpResponse<ApiError> processResponse(ErrorContext context, MutableHttpResponse<?> response) {
            int status = response.code();
            ErrorKind kind = switch (status) {
                case 400, 405, 415, 422 -> ErrorKind.INVALID_ARGUMENT;
                case 403 -> ErrorKind.PERMISSION_DENIED;
                case 404 -> ErrorKind.NOT_FOUND;
                case 409 -> ErrorKind.CONFLICT;
                case 413 -> ErrorKind.PAYLOAD_TOO_LARGE;
                case 503 -> ErrorKind.UNAVAILABLE;
                default -> status >= 500 ? ErrorKind.INTERNAL : ErrorKind.INVALID_ARGUMENT;
            };
            String message;
            String field = null;
            if (context.hasErrors()) {
                Error first = context.getErrors().get(0);
                message = first.getMessage();
                // The framework names a missing argument "/file"; API fields have no leading slash.
                field = first.getPath().map(path -> path.startsWith("/") ? path.substring(1) : path).orElse(null);
            } else {
                message = response.reason();
            }
            if (status == 400 && isJsonProblem(context)) {
                message = "request body is not valid JSON for this endpoint: " + message;
            }
            return response.contentType(MediaType.APPLICATION_JSON_TYPE)
                    .body(ApiError.of(kind, message, field));
        }

        private static boolean isJsonProblem(ErrorContext context) {
            return context.getRootCause()
                    .map(t -> t.getClass().getName().contains("Json") || t.getClass().getName().contains("Serde"))
                    .orElse(false);
        }
    }
}
