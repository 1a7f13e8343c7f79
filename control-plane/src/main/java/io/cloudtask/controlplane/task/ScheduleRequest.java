package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;

/**
 * One schedule as the REST API accepts and returns it:
 * {@code {"type": "cron", "expression": "*&#47;2 * * * * ?", "syntax": "quartz"}}.
 * Later schedule kinds add their own fields; {@code type} selects which apply.
 */
@Serdeable
public record ScheduleRequest(
        @Nullable String type,
        @Nullable String expression,
        @Nullable String syntax,
        @Nullable Boolean enabled,
        @Nullable Instant activeFrom,
        @Nullable Instant activeUntil) {}
