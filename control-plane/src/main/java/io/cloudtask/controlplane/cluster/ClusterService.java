package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.protocol.ZkLayout;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.util.List;
import java.util.stream.Collectors;

/** Clusters: the groups of agents that tasks are placed on. */
@Singleton
public class ClusterService {
    private final ClusterRepository clusters;
    private final Clock clock;

    ClusterService(ClusterRepository clusters, Clock clock) {
        this.clusters = clusters;
        this.clock = clock;
    }

    public boolean exists(String name) {
        return clusters.existsById(name);
    }

    public List<String> names() {
        return clusters.listOrderByName().stream().map(ClusterRow::name).toList();
    }

    /** Fails with a message listing the clusters that do exist when {@code name} does not. */
    public void requireExists(String field, String name) {
        if (!exists(name)) {
            throw ApiException.invalid(field, "cluster '" + name + "' does not exist; create it first"
                    + " (POST /api/v1/clusters) or use one of: " + names().stream().collect(Collectors.joining(", ")));
        }
    }

    List<ClusterView> list() {
        return clusters.listOrderByName().stream().map(ClusterView::of).toList();
    }

    ClusterView create(ClusterRequest request) {
        String name = request == null ? null : request.name();
        if (!ZkLayout.isValidSegment(name)) {
            throw ApiException.invalid("name", "cluster name '" + name
                    + "' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        String description = request.description() == null ? "" : request.description();
        if (description.length() > 1000) {
            throw ApiException.invalid("description", "description is " + description.length()
                    + " characters; the limit is 1000");
        }
        if (clusters.existsById(name)) {
            throw ApiException.conflict("name", "cluster '" + name + "' already exists");
        }
        return ClusterView.of(clusters.save(new ClusterRow(name, description, clock.instant())));
    }
}
