package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/** Clusters: the groups of agents that tasks are placed on, and who may join them. */
@Singleton
public class ClusterService {
    static final String DEFAULT_CLUSTER = "default";
    static final int MAX_ALLOWED_HOSTS = 100;

    private final ClusterRepository clusters;
    private final TransactionOperations<Connection> transactions;
    private final CuratorFramework zookeeper;
    private final Clock clock;

    ClusterService(ClusterRepository clusters, TransactionOperations<Connection> transactions,
            CuratorFramework zookeeper, Clock clock) {
        this.clusters = clusters;
        this.transactions = transactions;
        this.zookeeper = zookeeper;
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

    Optional<ClusterRow> find(String name) {
        return ZkLayout.isValidSegment(name) ? clusters.findById(name) : Optional.empty();
    }

    ClusterRow require(String name) {
        return find(name).orElseThrow(() -> ApiException.notFound("cluster '" + name + "' does not exist"));
    }

    List<ClusterView> list() {
        return clusters.listOrderByName().stream().map(ClusterView::of).toList();
    }

    ClusterView get(String name) {
        return ClusterView.of(require(name));
    }

    ClusterView create(ClusterRequest request) {
        String name = request == null ? null : request.name();
        if (!ZkLayout.isValidSegment(name)) {
            throw ApiException.invalid("name", "cluster name '" + name
                    + "' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        String description = validateDescription(request.description());
        String allowedHosts = validateAllowedHosts(request.allowedHosts());
        // New clusters are closed by default: an agent needs a token the operator issued.
        boolean requireJoinToken = request.requireJoinToken() == null || request.requireJoinToken();
        if (clusters.existsById(name)) {
            throw ApiException.conflict("name", "cluster '" + name + "' already exists");
        }
        return ClusterView.of(clusters.save(new ClusterRow(name, description, clock.instant(), requireJoinToken,
                allowedHosts)));
    }

    /** Changes the fields the request gives; the name cannot change (tasks and agents refer to it). */
    ClusterView edit(String name, ClusterRequest request) {
        ClusterRow row = require(name);
        if (request == null) {
            throw ApiException.invalid(null, "request body is missing: send the fields to change, e.g."
                    + " {\"description\": \"...\", \"requireJoinToken\": true, \"allowedHosts\": [\"10.0.0.0/8\"]}");
        }
        if (request.name() != null && !request.name().equals(name)) {
            throw ApiException.invalid("name", "a cluster cannot be renamed (tasks and agents refer to it by name);"
                    + " create a new cluster instead");
        }
        ClusterRow edited = new ClusterRow(name,
                request.description() == null ? row.description() : validateDescription(request.description()),
                row.createdAt(),
                request.requireJoinToken() == null ? row.requireJoinToken() : request.requireJoinToken(),
                request.allowedHosts() == null ? row.allowedHosts() : validateAllowedHosts(request.allowedHosts()));
        return ClusterView.of(clusters.update(edited));
    }

    /**
     * Deletes a cluster that nothing uses: no live task, no live agent. Its join tokens and the
     * records of its agents go with it.
     */
    void delete(String name) {
        require(name);
        if (DEFAULT_CLUSTER.equals(name)) {
            throw new ApiException(ErrorKind.FAILED_PRECONDITION, "name", "the 'default' cluster cannot be deleted:"
                    + " tasks and agents that name no cluster use it");
        }
        List<String> liveAgents = liveAgents(name);
        if (!liveAgents.isEmpty()) {
            throw new ApiException(ErrorKind.FAILED_PRECONDITION, "name", "cluster '" + name + "' has "
                    + liveAgents.size() + " live agent(s) " + liveAgents + ": stop them or point them at another"
                    + " cluster, then delete it");
        }
        transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            long liveTasks;
            try (PreparedStatement count = connection.prepareStatement(
                    "SELECT count(*) FROM tasks WHERE cluster = ? AND deleted_at IS NULL")) {
                count.setString(1, name);
                try (ResultSet rows = count.executeQuery()) {
                    rows.next();
                    liveTasks = rows.getLong(1);
                }
            }
            if (liveTasks > 0) {
                throw new ApiException(ErrorKind.FAILED_PRECONDITION, "name", "cluster '" + name + "' has " + liveTasks
                        + " live task(s): delete them or move them to another cluster first"
                        + " (GET /api/v1/tasks?cluster=" + name + ")");
            }
            try (PreparedStatement agents = connection.prepareStatement("DELETE FROM agents WHERE cluster = ?");
                    PreparedStatement cluster = connection.prepareStatement("DELETE FROM clusters WHERE name = ?")) {
                agents.setString(1, name);
                agents.executeUpdate();
                cluster.setString(1, name);
                cluster.executeUpdate();
            } catch (SQLException e) {
                if ("23503".equals(e.getSQLState())) {
                    // Deleted tasks keep their rows (and so the cluster) for their runs' history.
                    throw new ApiException(ErrorKind.FAILED_PRECONDITION, "name", "cluster '" + name
                            + "' still holds deleted tasks whose run history is kept; it cannot be deleted while"
                            + " they exist", e);
                }
                throw e;
            }
            return null;
        });
    }

    private List<String> liveAgents(String cluster) {
        try {
            return new ArrayList<>(zookeeper.getChildren().forPath(ZkLayout.agents(cluster)));
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        } catch (Exception e) {
            throw new ApiException(ErrorKind.UNAVAILABLE, null, "ZooKeeper is unavailable, so the live agents of"
                    + " cluster '" + cluster + "' cannot be checked; retry shortly", e);
        }
    }

    private static String validateDescription(String description) {
        String value = description == null ? "" : description;
        if (value.length() > 1000) {
            throw ApiException.invalid("description", "description is " + value.length()
                    + " characters; the limit is 1000");
        }
        return value;
    }

    /** Validates every entry (naming the one at fault) and returns them one per line. */
    static String validateAllowedHosts(List<String> allowedHosts) {
        if (allowedHosts == null) {
            return "";
        }
        if (allowedHosts.size() > MAX_ALLOWED_HOSTS) {
            throw ApiException.invalid("allowedHosts", "allowedHosts has " + allowedHosts.size()
                    + " entries; the limit is " + MAX_ALLOWED_HOSTS + " (use CIDR blocks or globs to cover more)");
        }
        List<String> normalised = new ArrayList<>();
        for (int i = 0; i < allowedHosts.size(); i++) {
            try {
                normalised.add(HostPattern.parse(allowedHosts.get(i)).toString());
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("allowedHosts[" + i + "]", e.getMessage());
            }
        }
        return String.join("\n", normalised);
    }
}
