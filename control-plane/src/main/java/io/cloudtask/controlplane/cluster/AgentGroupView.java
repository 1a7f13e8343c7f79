package io.cloudtask.controlplane.cluster;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;

/**
 * A group as the API shows it. {@code memberCount} counts the online agents whose labels satisfy
 * the selector; {@code members} (their ids, sorted) is given only for a single group.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
record AgentGroupView(String cluster, String name, String selector, String description, long version,
        Instant createdAt, Instant updatedAt, int memberCount,
        @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable List<String> members) {
    static AgentGroupView of(AgentGroupRow row, List<String> members, boolean withMembers) {
        return new AgentGroupView(row.cluster(), row.name(), row.selector(), row.description(), row.version(),
                row.createdAt(), row.updatedAt(), members.size(), withMembers ? members : null);
    }
}
