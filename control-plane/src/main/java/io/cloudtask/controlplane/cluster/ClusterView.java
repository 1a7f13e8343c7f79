package io.cloudtask.controlplane.cluster;

import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;

@Serdeable
record ClusterView(String name, String description, Instant createdAt) {
    static ClusterView of(ClusterRow row) {
        return new ClusterView(row.name(), row.description(), row.createdAt());
    }
}
