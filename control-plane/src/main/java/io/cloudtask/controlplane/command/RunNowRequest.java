package io.cloudtask.controlplane.command;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;
import java.util.Map;

/**
 * Body of {@code POST /api/v1/tasks/{id}/runs} (optional). {@code arguments}, when present,
 * replace the words after the program of an argv task, or are appended (each quoted) to a shell
 * task's command line; {@code environment} is added over the task's environment. Both apply to
 * this run only.
 */
@Serdeable
public record RunNowRequest(@Nullable List<String> arguments, @Nullable Map<String, String> environment) {}
