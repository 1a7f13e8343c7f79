package io.cloudtask.controlplane.api;

import io.micronaut.core.annotation.Nullable;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;

/**
 * The JSON body of every error response: {@code {"code": "INVALID_ARGUMENT", "message": "...",
 * "field": "schedules[0].expression", "retryable": false}}. The shape is stable; clients switch
 * on {@code code} and show {@code message}.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ApiError(String code, String message, @Nullable String field, boolean retryable) {
    public static ApiError of(ErrorKind kind, String message, @Nullable String field) {
        return new ApiError(kind.name(), message, field, kind.retryable());
    }
}
