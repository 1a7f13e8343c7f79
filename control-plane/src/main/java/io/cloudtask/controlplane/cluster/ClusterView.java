package io.cloudtask.controlplane.cluster;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;

@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
record ClusterView(String name, String description, Instant createdAt, boolean requireJoinToken,
        List<String> allowedHosts) {
    static ClusterView of(ClusterRow row) {
        return new ClusterView(row.name(), row.description(), row.createdAt(), row.requireJoinToken(),
                row.allowedHostList());
    }
}
