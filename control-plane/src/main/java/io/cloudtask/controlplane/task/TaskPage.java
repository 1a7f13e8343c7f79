package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/** One page of tasks; pass {@code nextPageToken} as {@code pageToken} to read the next. */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record TaskPage(List<TaskView> tasks, @Nullable String nextPageToken) {}
