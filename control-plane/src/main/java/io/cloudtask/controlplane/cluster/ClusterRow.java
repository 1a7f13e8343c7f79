package io.cloudtask.controlplane.cluster;

import io.micronaut.data.annotation.Id;
import io.micronaut.data.annotation.MappedEntity;
import java.time.Instant;

/**
 * A cluster as stored. {@code allowedHosts} holds one {@link HostPattern} per line (empty: any
 * host), kept as text because the entries are short and only ever read whole.
 */
@MappedEntity("clusters")
record ClusterRow(@Id String name, String description, Instant createdAt, boolean requireJoinToken,
        String allowedHosts) {
    java.util.List<String> allowedHostList() {
        return allowedHosts == null || allowedHosts.isEmpty() ? java.util.List.of()
                : java.util.List.of(allowedHosts.split("\n"));
    }
}
