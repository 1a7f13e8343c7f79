package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;

@Serdeable
record JoinTokenRequest(@Nullable String description, @Nullable Instant expiresAt) {}
