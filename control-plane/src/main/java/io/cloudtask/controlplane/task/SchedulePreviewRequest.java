package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/**
 * The body of {@code POST /api/v1/schedules/preview}: schedules as a task would hold them, the
 * time zone they are evaluated in (default UTC), how many fire times to list (default 10, at most
 * 1000) and the instant to list them after (default now). {@code after} is a string so that a
 * malformed value gets an error naming the field.
 */
@Serdeable
public record SchedulePreviewRequest(
        @Nullable List<ScheduleRequest> schedules,
        @Nullable String timeZone,
        @Nullable Integer count,
        @Nullable String after) {}
