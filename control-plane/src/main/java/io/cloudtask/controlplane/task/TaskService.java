package io.cloudtask.controlplane.task;

import com.google.protobuf.Duration;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.cluster.AgentGroups;
import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.proto.v1.Argv;
import io.cloudtask.proto.v1.Command;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.schedule.InvalidScheduleException;
import io.cloudtask.schedule.TaskSchedule;
import io.micronaut.core.type.Argument;
import io.micronaut.json.JsonMapper;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tasks: create, read, replace, delete; and the specs agents run. Thread-safe (stateless over
 * the database). Every change is committed before {@link TaskChangeListener}s hear of it.
 */
@Singleton
public class TaskService {
    private static final Logger log = LoggerFactory.getLogger(TaskService.class);
    private static final int NEXT_FIRE_TIMES_SHOWN = 5;
    /** PostgreSQL orders UUIDs as unsigned bytes: all-zero is the smallest. */
    private static final UUID FIRST_ID = new UUID(0L, 0L);
    private static final Argument<List<ScheduleRequest>> SCHEDULES = Argument.listOf(ScheduleRequest.class);
    private static final Argument<List<String>> STRINGS = Argument.listOf(String.class);
    private static final Argument<RunPolicies.Stored> POLICIES = Argument.of(RunPolicies.Stored.class);
    private static final Argument<Map<String, String>> ENVIRONMENT = Argument.mapOf(String.class, String.class);
    private static final Argument<PlacementRequest> PLACEMENT = Argument.of(PlacementRequest.class);

    private final TaskRepository tasks;
    private final ClusterService clusters;
    private final TransactionOperations<Connection> transactions;
    private final JsonMapper json;
    private final Clock clock;
    private final List<TaskChangeListener> listeners;
    private final TaskPackages packages;
    private final AgentGroups groups;

    TaskService(TaskRepository tasks, ClusterService clusters, TransactionOperations<Connection> transactions,
            JsonMapper json, Clock clock, List<TaskChangeListener> listeners, TaskPackages packages,
            AgentGroups groups) {
        this.groups = groups;
        this.packages = packages;
        this.tasks = tasks;
        this.clusters = clusters;
        this.transactions = transactions;
        this.json = json;
        this.clock = clock;
        this.listeners = listeners;
    }

    public TaskView create(TaskRequest request) {
        TaskDefinition definition = TaskValidator.validate(request);
        if (request.version() != null) {
            throw ApiException.invalid("version", "version is assigned by the server; omit it when creating a task");
        }
        TaskRow saved = writeGuardingNames(() -> transactions.executeWrite(status -> {
            clusters.requireExists("cluster", definition.cluster());
            requireGroup(definition.cluster(), definition.placement());
            requireNameFree(definition.cluster(), definition.name());
            Instant now = clock.instant();
            return tasks.save(toRow(UUID.randomUUID(), definition, 1, now, now));
        }), definition.cluster(), definition.name());
        notifyChanged(saved.cluster());
        return view(saved);
    }

    public TaskView get(UUID id) {
        return view(tasks.findByIdAndDeletedAtIsNull(id).orElseThrow(() -> notFound(id)));
    }

    public TaskPage list(String cluster, String pageToken, int limit) {
        if (limit < 1 || limit > 1000) {
            throw ApiException.invalid("limit", "limit is " + limit + "; use a value from 1 to 1000");
        }
        UUID after = FIRST_ID;
        if (pageToken != null && !pageToken.isEmpty()) {
            try {
                after = UUID.fromString(pageToken);
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("pageToken", "pageToken '" + pageToken
                        + "' was not issued by this API; pass the nextPageToken of the previous page");
            }
        }
        List<TaskRow> rows = tasks.page(cluster, after, limit + 1);
        String next = null;
        if (rows.size() > limit) {
            rows = rows.subList(0, limit);
            next = rows.get(limit - 1).id().toString();
        }
        Map<UUID, CurrentPackage> current = packages.currentOf(rows.stream().map(TaskRow::id).toList());
        return new TaskPage(rows.stream().map(row -> view(row, current.get(row.id()))).toList(), next);
    }

    public TaskView replace(UUID id, TaskRequest request) {
        TaskDefinition definition = TaskValidator.validate(request);
        TaskRow[] before = new TaskRow[1];
        TaskRow saved = writeGuardingNames(() -> transactions.executeWrite(status -> {
            TaskRow current = tasks.lockLive(id).orElseThrow(() -> notFound(id));
            before[0] = current;
            if (request.version() != null && request.version() != current.version()) {
                throw ApiException.conflict("version", "task " + id + " is at version " + current.version()
                        + ", not " + request.version() + "; someone else changed it: read it again and reapply your edit");
            }
            clusters.requireExists("cluster", definition.cluster());
            requireGroup(definition.cluster(), definition.placement());
            if (!current.name().equals(definition.name()) || !current.cluster().equals(definition.cluster())) {
                requireNameFree(definition.cluster(), definition.name());
            }
            return tasks.update(toRow(id, definition, current.version() + 1, current.createdAt(), clock.instant()));
        }), definition.cluster(), definition.name());
        notifyChanged(saved.cluster());
        if (!before[0].cluster().equals(saved.cluster())) {
            notifyChanged(before[0].cluster());
        }
        return view(saved);
    }

    public void delete(UUID id) {
        TaskRow deleted = transactions.executeWrite(status ->
                tasks.update(tasks.lockLive(id).orElseThrow(() -> notFound(id)).deletedAt(clock.instant())));
        notifyChanged(deleted.cluster());
    }

    /**
     * Pauses or resumes a task: a paused task stays assigned but does not fire on schedule. Asking
     * for the state the task is already in changes nothing (no new version).
     */
    public TaskView setPaused(UUID id, boolean paused) {
        TaskRow[] saved = new TaskRow[1];
        boolean changed = transactions.executeWrite(status -> {
            TaskRow current = tasks.lockLive(id).orElseThrow(() -> notFound(id));
            if (current.paused() == paused) {
                saved[0] = current;
                return false;
            }
            saved[0] = tasks.update(current.withPaused(paused, clock.instant()));
            return true;
        });
        if (changed) {
            notifyChanged(saved[0].cluster());
        }
        return view(saved[0]);
    }

    /**
     * Copies a task's whole definition into a new task with another name (default "{name} (copy)").
     * The copy is created paused unless {@code paused} says otherwise, so a copy never doubles the
     * original's runs by surprise. It shares the original's current package (same content, as its
     * package version 1), not its package history.
     */
    public TaskView copy(UUID id, String name, Boolean paused) {
        TaskRow source = tasks.findByIdAndDeletedAtIsNull(id).orElseThrow(() -> notFound(id));
        String copyName = name == null ? source.name() + " (copy)" : name.strip();
        if (copyName.isEmpty() || copyName.length() > TaskValidator.MAX_NAME_LENGTH
                || copyName.chars().anyMatch(Character::isISOControl)) {
            throw ApiException.invalid("name", "name must be 1-" + TaskValidator.MAX_NAME_LENGTH
                    + " characters without control characters");
        }
        TaskRow saved = writeGuardingNames(() -> transactions.executeWrite(status -> {
            requireNameFree(source.cluster(), copyName);
            requireGroup(source.cluster(), placement(source));
            TaskRow copied = tasks.save(source.copiedAs(UUID.randomUUID(), copyName, paused == null || paused,
                    clock.instant()));
            packages.copyCurrent(source.id(), copied.id());
            return copied;
        }), source.cluster(), copyName);
        notifyChanged(saved.cluster());
        return view(saved);
    }

    /** Whether a task with this id exists or existed (deleted tasks keep their run history). */
    public boolean everExisted(UUID id) {
        return tasks.existsById(id);
    }

    /** The live tasks of a cluster with their spec versions and placements, for allocation. */
    public List<TaskRef> liveTasks(String cluster) {
        // Every publication reads this: only ids, versions and placements, not the definitions.
        return transactions.executeRead(status -> {
            List<TaskRef> refs = new ArrayList<>();
            // Most tasks share a handful of placements: each distinct document is parsed once.
            Map<String, io.cloudtask.proto.v1.Placement> placements = new java.util.HashMap<>();
            try (java.sql.PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT id, version, placement_json FROM tasks WHERE cluster = ? AND deleted_at IS NULL")) {
                select.setString(1, cluster);
                try (java.sql.ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        refs.add(new TaskRef(rows.getObject(1, UUID.class).toString(), rows.getLong(2),
                                placements.computeIfAbsent(rows.getString(3), this::placementProto)));
                    }
                }
            }
            return refs;
        });
    }

    /** The specs of the given live tasks; ids that are malformed, unknown or deleted are missing. */
    public SpecLookup specs(List<String> taskIds) {
        Set<UUID> ids = new HashSet<>();
        List<String> missing = new ArrayList<>();
        for (String taskId : taskIds) {
            parseUuid(taskId).ifPresentOrElse(ids::add, () -> missing.add(taskId));
        }
        List<TaskSpec> specs = new ArrayList<>();
        Set<String> found = new HashSet<>();
        if (!ids.isEmpty()) {
            List<TaskRow> rows = tasks.findByIdInListAndDeletedAtIsNull(ids);
            Map<UUID, CurrentPackage> current = packages.currentOf(rows.stream().map(TaskRow::id).toList());
            for (TaskRow row : rows) {
                specs.add(toSpec(row, current.get(row.id())));
                found.add(row.id().toString());
            }
        }
        for (UUID id : ids) {
            if (!found.contains(id.toString())) {
                missing.add(id.toString());
            }
        }
        return new SpecLookup(specs, missing);
    }

    private static Optional<UUID> parseUuid(String value) {
        try {
            return Optional.of(UUID.fromString(value));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Inside the write transaction: a group placement must name a group of the task's cluster (row locked). */
    private void requireGroup(String cluster, PlacementRequest placement) {
        if (placement.group() != null) {
            groups.requireExists("placement.group", cluster, placement.group());
        }
    }

    private void requireNameFree(String cluster, String name) {
        if (tasks.existsByClusterAndNameAndDeletedAtIsNull(cluster, name)) {
            throw ApiException.conflict("name", "a task named '" + name + "' already exists in cluster '"
                    + cluster + "'; choose another name or edit that task");
        }
    }

    /** Two concurrent creates can both pass the name check; the unique index decides. */
    private TaskRow writeGuardingNames(java.util.function.Supplier<TaskRow> write, String cluster, String name) {
        try {
            return write.get();
        } catch (RuntimeException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
                    throw new ApiException(io.cloudtask.controlplane.api.ErrorKind.CONFLICT, "name",
                            "a task named '" + name + "' already exists in cluster '"
                                    + cluster + "'; choose another name or edit that task", e);
                }
            }
            throw e;
        }
    }

    private void notifyChanged(String cluster) {
        for (TaskChangeListener listener : listeners) {
            try {
                listener.tasksChanged(cluster);
            } catch (RuntimeException e) {
                // The change is committed; the periodic reconcile publishes it if this signal failed.
                log.warn("task change signal failed for cluster {}: {}", cluster, e.toString());
            }
        }
    }

    private static ApiException notFound(UUID id) {
        return ApiException.notFound("task " + id + " does not exist (or was deleted)");
    }

    private TaskRow toRow(UUID id, TaskDefinition d, long version, Instant createdAt, Instant updatedAt) {
        return new TaskRow(id, d.name(), d.cluster(), d.shellCommand(), d.argv() == null ? null : write(d.argv()),
                d.workingDirectory(), write(d.schedules()), d.timeZone(), write(d.environment()), d.timeoutSeconds(),
                d.paused(), write(d.policies()), d.killGraceSeconds(), write(d.placement()), version, createdAt,
                updatedAt, null);
    }

    private TaskView view(TaskRow row) {
        return view(row, packages.currentOf(List.of(row.id())).get(row.id()));
    }

    private TaskView view(TaskRow row, CurrentPackage currentPackage) {
        List<ScheduleRequest> schedules = read(row.schedulesJson(), SCHEDULES);
        List<Instant> next;
        try {
            next = TaskSchedule.of(ScheduleValidator.toProto(schedules), row.timeZone())
                    .next(clock.instant(), NEXT_FIRE_TIMES_SHOWN);
        } catch (InvalidScheduleException e) {
            // Stored tasks were validated on write; a rule tightened since then must not hide the task.
            log.warn("stored task {} no longer validates: {}", row.id(), e.getMessage());
            next = List.of();
        }
        RunPolicies.Stored policies = policies(row);
        return new TaskView(row.id(), row.name(), row.cluster(), row.shellCommand(),
                row.argvJson() == null ? null : read(row.argvJson(), STRINGS), row.workingDirectory(), schedules,
                row.timeZone(), read(row.environmentJson(), ENVIRONMENT), row.timeoutSeconds(), row.paused(),
                policies.overlap(), policies.misfire(), policies.retry(), policies.delivery(), row.killGraceSeconds(),
                placement(row), row.version(), row.createdAt(), row.updatedAt(), row.paused() ? List.of() : next,
                currentPackage);
    }

    private TaskSpec toSpec(TaskRow row, CurrentPackage currentPackage) {
        Command.Builder command = Command.newBuilder();
        if (row.shellCommand() != null) {
            command.setShell(row.shellCommand());
        } else {
            command.setArgv(Argv.newBuilder().addAllArgs(read(row.argvJson(), STRINGS)));
        }
        if (row.workingDirectory() != null) {
            command.setWorkingDirectory(row.workingDirectory());
        }
        TaskSpec.Builder spec = TaskSpec.newBuilder()
                .setTaskId(row.id().toString())
                .setVersion(row.version())
                .setName(row.name())
                .setCluster(row.cluster())
                .setCommand(command)
                .addAllSchedules(ScheduleValidator.toProto(read(row.schedulesJson(), SCHEDULES)))
                .setTimeZone(row.timeZone())
                .putAllEnvironment(read(row.environmentJson(), ENVIRONMENT))
                .setPaused(row.paused());
        if (row.timeoutSeconds() > 0) {
            spec.setTimeout(Duration.newBuilder().setSeconds(row.timeoutSeconds()));
        }
        RunPolicyValidator.toSpec(policies(row), row.killGraceSeconds(), spec);
        if (currentPackage != null) {
            spec.setPackage(currentPackage.toProto());
        }
        spec.setPlacement(PlacementValidator.toProto(placement(row)));
        // The version's write time: agents never count fires before it as missed.
        spec.setVersionCreatedAt(com.google.protobuf.Timestamp.newBuilder()
                .setSeconds(row.updatedAt().getEpochSecond()).setNanos(row.updatedAt().getNano()));
        return spec.build();
    }

    /**
     * Rows written before V4 hold '{}' (or a document missing parts): normalising them again fills in
     * the defaults, so old tasks behave exactly as before policies existed except for the defaults.
     */
    private RunPolicies.Stored policies(TaskRow row) {
        RunPolicies.Stored stored = read(row.policiesJson(), POLICIES);
        return RunPolicyValidator.validate(stored.overlap(), stored.misfire(), stored.retry(), stored.delivery());
    }

    /** The stored placement, normalised again so that a row written before V7 reads as any agent. */
    private PlacementRequest placement(TaskRow row) {
        return PlacementValidator.validate(read(row.placementJson(), PLACEMENT));
    }

    private io.cloudtask.proto.v1.Placement placementProto(String placementJson) {
        return PlacementValidator.toProto(PlacementValidator.validate(read(placementJson, PLACEMENT)));
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private <T> T read(String value, Argument<T> type) {
        try {
            return json.readValue(value, type);
        } catch (IOException e) {
            throw new UncheckedIOException("stored task JSON is unreadable", e);
        }
    }
}
