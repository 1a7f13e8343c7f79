package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/** One page of tasks; pass {@code nextPageToken} as {@code pageToken} to read the next. */
@Serdeable
public record TaskPage(List<TaskView> tasks, @Nullable String nextPageToken) {}
