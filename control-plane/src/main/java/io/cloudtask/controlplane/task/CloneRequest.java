package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/** Body of {@code POST /api/v1/tasks/{id}/clone}; both fields optional. */
@Serdeable
record CloneRequest(@Nullable String name, @Nullable Boolean paused) {}
