package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/** Create (name required) or edit (every field optional: null leaves it as it is) a cluster. */
@Serdeable
record ClusterRequest(@Nullable String name, @Nullable String description, @Nullable Boolean requireJoinToken,
        @Nullable List<String> allowedHosts) {}
