package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.allocation.AgentLabels;
import io.cloudtask.controlplane.allocation.LabelSelector;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Agent groups: named label selectors within a cluster (the original product's groups). A group's
 * members are the cluster's online agents whose labels, as the allocator sees them
 * ({@link AgentLabels}), satisfy its selector; tasks are placed on a group by name. Thread-safe.
 */
@Singleton
public class AgentGroups {
    private static final Logger log = LoggerFactory.getLogger(AgentGroups.class);
    static final int MAX_SELECTOR_LENGTH = 4096;
    static final int MAX_DESCRIPTION_LENGTH = 1000;
    /** How many of the tasks using a group a refused delete names. */
    static final int TASKS_NAMED = 20;

    private final AgentGroupStore store;
    private final ClusterService clusters;
    private final LiveAgents liveAgents;
    private final TransactionOperations<Connection> transactions;
    private final List<AgentGroupListener> listeners;
    private final Clock clock;

    AgentGroups(AgentGroupStore store, ClusterService clusters, LiveAgents liveAgents,
            TransactionOperations<Connection> transactions, List<AgentGroupListener> listeners, Clock clock) {
        this.store = store;
        this.clusters = clusters;
        this.liveAgents = liveAgents;
        this.transactions = transactions;
        this.listeners = listeners;
        this.clock = clock;
    }

    /**
     * Fails with a 400 naming {@code field} unless the cluster has the group. Call it inside the
     * write transaction that stores a task naming the group: it locks the group's row (shared)
     * until that transaction ends, so a concurrent delete of the group either sees the task and is
     * refused, or commits first and this check fails.
     */
    public void requireExists(String field, String cluster, String group) {
        if (!ZkLayout.isValidSegment(group) || store.lock(cluster, group, false).isEmpty()) {
            List<String> names = store.list(cluster).stream().map(AgentGroupRow::name).toList();
            throw ApiException.invalid(field, "group '" + group + "' does not exist in cluster '" + cluster
                    + "'; create it first (POST /api/v1/clusters/" + cluster + "/groups)"
                    + (names.isEmpty() ? "" : " or use one of: " + String.join(", ", names)));
        }
    }

    /** The selectors of a cluster's groups by group name: one query, for a whole publication. */
    public Map<String, LabelSelector> selectorsOf(String cluster) {
        Map<String, LabelSelector> selectors = new HashMap<>();
        for (AgentGroupRow row : store.list(cluster)) {
            try {
                selectors.put(row.name(), LabelSelector.parse(row.selector()));
            } catch (IllegalArgumentException e) {
                // Stored selectors were validated on write; a rule tightened since must not stop allocation.
                log.warn("group {} of cluster {} has a selector that no longer parses; its tasks are placed as if"
                        + " it did not exist: {}", row.name(), cluster, e.getMessage());
            }
        }
        return selectors;
    }

    /** The names of the groups, among {@code groups}, whose selector these labels satisfy. */
    static List<String> matching(List<AgentGroupRow> groups, Map<String, String> offeredLabels) {
        List<String> names = new ArrayList<>();
        for (AgentGroupRow group : groups) {
            if (admits(group, offeredLabels)) {
                names.add(group.name());
            }
        }
        return names;
    }

    /** Every group of one cluster, or of all clusters when {@code cluster} is null. */
    List<AgentGroupRow> rows(String cluster) {
        return store.list(cluster);
    }

    List<AgentGroupView> list(String cluster) {
        clusters.require(cluster);
        List<AgentGroupRow> rows = store.list(cluster);
        if (rows.isEmpty()) {
            return List.of();
        }
        Map<String, AgentInfo> live = liveAgents.of(cluster);
        return rows.stream().map(row -> AgentGroupView.of(row, members(row, live), false)).toList();
    }

    AgentGroupView get(String cluster, String name) {
        clusters.require(cluster);
        if (!ZkLayout.isValidSegment(name)) {
            throw notFound(cluster, name);
        }
        AgentGroupRow row = store.find(cluster, name).orElseThrow(() -> notFound(cluster, name));
        return AgentGroupView.of(row, members(row, liveAgents.of(cluster)), true);
    }

    AgentGroupView create(String cluster, AgentGroupRequest request) {
        clusters.require(cluster);
        if (request == null) {
            throw ApiException.invalid(null, "request body is missing: send a group such as"
                    + " {\"name\": \"web\", \"selector\": \"role=web,zone=a\", \"description\": \"...\"}");
        }
        String name = request.name();
        if (!ZkLayout.isValidSegment(name)) {
            throw ApiException.invalid("name", "group name '" + name
                    + "' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        String selector = validateSelector(request.selector());
        String description = validateDescription(request.description());
        if (request.version() != null) {
            throw ApiException.invalid("version", "version is assigned by the server; omit it when creating a group");
        }
        Instant now = clock.instant();
        AgentGroupRow row = new AgentGroupRow(cluster, name, selector, description, 1, now, now);
        transactions.executeWrite(status -> {
            if (!store.lockCluster(cluster)) {
                throw notFoundCluster(cluster);
            }
            if (!store.insert(row)) {
                throw ApiException.conflict("name", "group '" + name + "' already exists in cluster '" + cluster
                        + "'; choose another name or edit that group (PUT /api/v1/clusters/" + cluster + "/groups/"
                        + name + ")");
            }
            return null;
        });
        log.info("group {} of cluster {} created with selector '{}'", name, cluster, selector);
        return AgentGroupView.of(row, members(row, liveAgents.of(cluster)), true);
    }

    /** Changes the selector and description the request gives; the name cannot change (tasks refer to it). */
    AgentGroupView edit(String cluster, String name, AgentGroupRequest request) {
        clusters.require(cluster);
        if (!ZkLayout.isValidSegment(name)) {
            throw notFound(cluster, name);
        }
        if (request == null) {
            throw ApiException.invalid(null, "request body is missing: send the fields to change, e.g."
                    + " {\"selector\": \"role=web\", \"description\": \"...\", \"version\": 3}");
        }
        if (request.name() != null && !request.name().equals(name)) {
            throw ApiException.invalid("name", "a group cannot be renamed (task placements refer to it by name);"
                    + " create a new group, move the tasks to it, then delete this one");
        }
        String selector = request.selector() == null ? null : validateSelector(request.selector());
        String description = request.description() == null ? null : validateDescription(request.description());
        AgentGroupRow[] before = new AgentGroupRow[1];
        AgentGroupRow edited = transactions.executeWrite(status -> {
            AgentGroupRow current = store.lock(cluster, name, true).orElseThrow(() -> notFound(cluster, name));
            before[0] = current;
            if (request.version() != null && request.version() != current.version()) {
                throw ApiException.conflict("version", "group '" + name + "' is at version " + current.version()
                        + ", not " + request.version() + "; someone else changed it: read it again and reapply"
                        + " your edit");
            }
            AgentGroupRow row = new AgentGroupRow(cluster, name, selector == null ? current.selector() : selector,
                    description == null ? current.description() : description, current.version() + 1,
                    current.createdAt(), clock.instant());
            store.update(row);
            return row;
        });
        if (!edited.selector().equals(before[0].selector())) {
            log.info("group {} of cluster {}: selector '{}' is now '{}'", name, cluster, before[0].selector(),
                    edited.selector());
            notifyChanged(cluster);
        }
        return AgentGroupView.of(edited, members(edited, liveAgents.of(cluster)), true);
    }

    /** Deletes a group that no live task's placement names. */
    void delete(String cluster, String name) {
        clusters.require(cluster);
        if (!ZkLayout.isValidSegment(name)) {
            throw notFound(cluster, name);
        }
        transactions.executeWrite(status -> {
            store.lock(cluster, name, true).orElseThrow(() -> notFound(cluster, name));
            AgentGroupStore.Usage usage = store.usage(cluster, name, TASKS_NAMED);
            if (usage.taskCount() > 0) {
                throw new ApiException(ErrorKind.FAILED_PRECONDITION, "name", "group '" + name + "' of cluster '"
                        + cluster + "' is the placement of " + usage.taskCount() + " live task(s)"
                        + (usage.taskCount() > usage.firstTaskIds().size() ? ", the first " + TASKS_NAMED + ": "
                                : ": ") + String.join(", ", usage.firstTaskIds())
                        + "; change their placement or delete them first");
            }
            store.delete(cluster, name);
            return null;
        });
        log.info("group {} of cluster {} deleted", name, cluster);
    }

    /** The online agents of the group, sorted by id. */
    private static List<String> members(AgentGroupRow group, Map<String, AgentInfo> live) {
        return live.entrySet().stream().filter(agent -> admits(group, AgentLabels.offered(agent.getValue())))
                .map(Map.Entry::getKey).sorted().collect(Collectors.toList());
    }

    /** Whether the group's selector admits these labels; a stored selector that no longer parses admits none. */
    private static boolean admits(AgentGroupRow group, Map<String, String> offeredLabels) {
        try {
            return LabelSelector.parse(group.selector()).matches(offeredLabels);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private void notifyChanged(String cluster) {
        for (AgentGroupListener listener : listeners) {
            try {
                listener.groupChanged(cluster);
            } catch (RuntimeException e) {
                // The edit is committed; the periodic reconcile publishes it if this signal failed.
                log.warn("group change signal failed for cluster {}: {}", cluster, e.toString());
            }
        }
    }

    private static String validateSelector(String selector) {
        if (selector == null || selector.isBlank()) {
            throw ApiException.invalid("selector", "selector is required: the labels the group's agents have, such"
                    + " as 'role=web,zone=a'");
        }
        if (selector.length() > MAX_SELECTOR_LENGTH) {
            throw ApiException.invalid("selector", "selector is " + selector.length() + " characters; the limit is "
                    + MAX_SELECTOR_LENGTH);
        }
        try {
            return LabelSelector.parse(selector).toString();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("selector", e.getMessage());
        }
    }

    private static String validateDescription(String description) {
        String value = description == null ? "" : description;
        if (value.length() > MAX_DESCRIPTION_LENGTH) {
            throw ApiException.invalid("description", "description is " + value.length()
                    + " characters; the limit is " + MAX_DESCRIPTION_LENGTH);
        }
        return value;
    }

    private static ApiException notFound(String cluster, String name) {
        return ApiException.notFound("group '" + name + "' does not exist in cluster '" + cluster
                + "' (GET /api/v1/clusters/" + cluster + "/groups lists its groups)");
    }

    private static ApiException notFoundCluster(String cluster) {
        return ApiException.notFound("cluster '" + cluster + "' does not exist");
    }
}
