package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * Create a group ({@code name} and {@code selector} required) or edit one (every field optional:
 * null leaves it as it is; {@code version}, when given, must be the group's current version).
 */
@Serdeable
record AgentGroupRequest(@Nullable String name, @Nullable String selector, @Nullable String description,
        @Nullable Long version) {}
