package io.cloudtask.controlplane.cluster;

import io.micronaut.data.annotation.Id;
import io.micronaut.data.annotation.MappedEntity;
import java.time.Instant;
import java.util.List;

/**
 * A cluster as stored. {@code allowedHosts} holds one {@link HostPattern} per line (empty: any
 * host), kept as text because the entries are short and only ever read whole.
 */
@MappedEntity("clusters")
record ClusterRow(@Id String name, String description, Instant createdAt, boolean requireJoinToken,
        String allowedHosts) {
    List<String> allowedHostList() {
        return allowedHosts == null || allowedHosts.isEmpty() ? List.of() : List.of(allowedHosts.split("\n"));
    }
}
