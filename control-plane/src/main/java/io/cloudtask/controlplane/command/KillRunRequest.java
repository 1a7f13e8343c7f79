package io.cloudtask.controlplane.command;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/** Body of {@code POST /api/v1/runs/{id}/kill} (optional): why, recorded as the run's error. */
@Serdeable
public record KillRunRequest(@Nullable String reason) {}
