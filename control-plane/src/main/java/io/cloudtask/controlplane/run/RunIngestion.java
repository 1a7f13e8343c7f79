package io.cloudtask.controlplane.run;

import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stores the run events agents report, idempotently: a run is keyed by its id and fire time (and by
 * its fire: (task, fire time, attempt) for a scheduled fire, plus the agent for a broadcast one,
 * (command, attempt) for a manual run), an output chunk by (run id, sequence), and a finished run
 * is only written over a state the state machine allows the finish from. Replaying any prefix of
 * an agent's events therefore changes nothing. A batch with a run in a month that has no partition
 * yet creates that month's partition first (in a transaction of its own) and is then stored again.
 * Thread-safe; each call stores its batch in one transaction.
 *
 * <p>A batch is stored in a fixed number of statements, whatever its size: the events of each run
 * are folded into the row the run would have if it were new ({@link RunReport}), and one insert
 * writes all those rows, each in its final state (a run started and finished within the batch is
 * written once, not inserted RUNNING and then updated). Only the runs that were already stored
 * (started in an earlier batch, replays) are then finished by a guarded update, as before.
 */
@Singleton
public class RunIngestion {
    private static final Logger log = LoggerFactory.getLogger(RunIngestion.class);
    /** Statuses an agent may end a fire with (SKIPPED and MISSED: the fire never ran). */
    private static final Set<RunStatus> REPORTABLE_ENDS = Set.of(RunStatus.RUN_STATUS_SUCCEEDED,
            RunStatus.RUN_STATUS_FAILED, RunStatus.RUN_STATUS_TIMED_OUT, RunStatus.RUN_STATUS_KILLED,
            RunStatus.RUN_STATUS_SKIPPED, RunStatus.RUN_STATUS_MISSED);
    /** The SQLSTATE of an insert that no partition of {@code runs} accepts. */
    private static final String CHECK_VIOLATION = "23514";

    /**
     * Finishes a batch of runs in one statement, each only over a stored state the state machine
     * allows the finish from (%s is that list); returns the ids it finished.
     */
    private static final String FINISH_STORED = "UPDATE runs SET status = f.status, finished_at = f.finished_at,"
            + " exit_code = f.exit_code, error = f.error, output_bytes = f.output_bytes,"
            + " output_chunk_count = f.chunk_count, updated_at = ?"
            + " FROM unnest(?::uuid[], ?::text[], ?::timestamptz[], ?::int[], ?::text[], ?::bigint[], ?::bigint[],"
            + " ?::timestamptz[]) AS f(id, status, finished_at, exit_code, error, output_bytes, chunk_count, fire_time)"
            // The fire time only lets PostgreSQL skip the other months' partitions (run-time
            // pruning); the id alone picks the run. A window of a millisecond each side, because
            // ids derive from the fire time's milliseconds, and so that a text round trip of the
            // timestamp that rounds a sub-microsecond part differently can never miss the run.
            + " WHERE runs.id = f.id AND runs.fire_time BETWEEN f.fire_time - INTERVAL '1 millisecond'"
            + " AND f.fire_time + INTERVAL '1 millisecond' AND runs.status IN (%s)"
            // The batch's span of fire times, as constants: the statement is planned for the months
            // it touches only (each month's partition planned costs time, found or not).
            + " AND runs.fire_time BETWEEN ? AND ? RETURNING runs.id";
    /**
     * Records a batch of runs each in the state its events in the batch lead to from no row at
     * all; a run that is already stored (or whose fire is) is left as it is and not returned.
     */
    private static final String INSERT_RUNS = "INSERT INTO runs (id, task_id, cluster, agent_id, fire_time, attempt,"
            + " trigger, status, spec_version, started_at, finished_at, exit_code, error, output_bytes,"
            + " output_chunk_count, output_stored_bytes, created_at, updated_at, command_id, fire_scope, provisional)"
            + " SELECT r.id, r.task_id, ?, ?, r.fire_time, r.attempt, r.trigger, r.status, r.spec_version, r.started_at,"
            + " r.finished_at, r.exit_code, r.error, r.output_bytes, r.chunk_count, r.stored_bytes, ?, ?, r.command_id,"
            + " r.fire_scope, r.provisional"
            + " FROM unnest(?::uuid[], ?::uuid[], ?::timestamptz[], ?::int[], ?::text[], ?::text[], ?::bigint[],"
            + " ?::timestamptz[], ?::timestamptz[], ?::int[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[],"
            + " ?::uuid[], ?::text[], ?::boolean[]) AS r(id, task_id, fire_time, attempt, trigger, status,"
            + " spec_version, started_at, finished_at, exit_code, error, output_bytes, chunk_count, stored_bytes,"
            + " command_id, fire_scope, provisional)"
            + " ON CONFLICT DO NOTHING RETURNING id, output_stored_bytes";
    /**
     * Removes provisional MISSED records (hand-over gaps) of fires that an agent reports for real;
     * the report is then stored as if nothing had been recorded. Matched like FINISH_STORED; the
     * partial index runs_provisional (V12) holds only provisional records, so the probe is cheap.
     */
    private static final String SUPERSEDE_PROVISIONAL = "DELETE FROM runs USING unnest(?::uuid[], ?::timestamptz[])"
            + " AS r(id, fire_time) WHERE runs.id = r.id AND runs.fire_time BETWEEN r.fire_time - INTERVAL '1 millisecond'"
            + " AND r.fire_time + INTERVAL '1 millisecond' AND runs.provisional AND runs.fire_time BETWEEN ? AND ?";

    private final TransactionOperations<Connection> transactions;
    private final Clock clock;
    private final OutputCap outputCap;
    private final RunPartitions partitions;
    private final AtomicLong rejectedEvents = new AtomicLong();

    RunIngestion(TransactionOperations<Connection> transactions, Clock clock, OutputCap outputCap,
            RunPartitions partitions) {
        this.transactions = transactions;
        this.clock = clock;
        this.outputCap = outputCap;
        this.partitions = partitions;
    }

    /**
     * Stores a batch of run events from one agent in one transaction. Events that can never be
     * stored (a malformed id, a non-terminal finish) are logged, counted and skipped, so one bad
     * event cannot wedge the agent's stream.
     */
    public void ingest(String agentId, String cluster, List<AgentMessage> events) {
        List<RunStarted> started = new ArrayList<>();
        List<OutputChunk> chunks = new ArrayList<>();
        List<RunFinished> finished = new ArrayList<>();
        for (AgentMessage event : events) {
            switch (event.getBodyCase()) {
                case RUN_STARTED -> accept(started, event.getRunStarted(),
                        valid(event.getRunStarted().getRunId(), event.getRunStarted().getTaskId())
                                && validCommand(event.getRunStarted().getCommandId()), agentId);
                case OUTPUT_CHUNK -> accept(chunks, event.getOutputChunk(),
                        isUuid(event.getOutputChunk().getRunId()), agentId);
                case RUN_FINISHED -> accept(finished, event.getRunFinished(),
                        valid(event.getRunFinished().getRunId(), event.getRunFinished().getTaskId())
                                && validCommand(event.getRunFinished().getCommandId())
                                && REPORTABLE_ENDS.contains(event.getRunFinished().getStatus()), agentId);
                default -> throw new IllegalArgumentException("not a run event: " + event.getBodyCase());
            }
        }
        Collection<RunReport> reports = RunReport.fold(started, finished);
        try {
            store(agentId, cluster, started, chunks, finished, reports);
        } catch (Exception e) {
            // Exception, not RuntimeException: the transaction template rethrows the callback's
            // SQLException as it is; everything else is rethrown unchanged.
            if (!isMissingPartition(e)) {
                throw e;
            }
            // A run of a month that has no partition (runs has no default partition): create the
            // batch's months and store the batch again. Nothing of the failed attempt was kept.
            Set<YearMonth> months = new HashSet<>();
            started.forEach(event -> months.add(RunPartitions.monthOf(Timestamps.toInstant(event.getFireTime()))));
            finished.forEach(event -> months.add(RunPartitions.monthOf(Timestamps.toInstant(event.getFireTime()))));
            log.info("run events of agent {} fall in months without a partition; creating {}", agentId, months);
            partitions.ensure(months);
            store(agentId, cluster, started, chunks, finished, reports);
        }
    }

    private void store(String agentId, String cluster, List<RunStarted> started, List<OutputChunk> chunks,
            List<RunFinished> finished, Collection<RunReport> reports) {
        transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            OffsetDateTime now = now();
            // Chunks first: a run created below then starts with its output already counted.
            OutputCap.NewOutput newOutput = outputCap.insert(connection, chunks);
            try (Statement statement = connection.createStatement()) {
                // The lookups below join the batch's few ids against a month of runs. A plan cached
                // while the month was small (each month starts empty, without statistics until
                // autoanalyze) scans the whole month at every batch once it has grown; planning
                // each statement for the batch at hand keeps them index probes. (The chunk insert
                // above looks nothing up, and planning it anew would copy megabytes of output.)
                statement.execute("SET LOCAL plan_cache_mode = force_custom_plan");
            }
            supersedeProvisional(connection, started, finished);
            Map<UUID, Long> created = insertRuns(connection, agentId, cluster, reports, newOutput.bytes(), now);
            outputCap.cutOverCap(connection, created);
            Set<UUID> storedBefore = new LinkedHashSet<>(newOutput.bytes().keySet());
            storedBefore.removeAll(created.keySet());
            outputCap.addStored(connection, newOutput, storedBefore);
            List<RunReport> toFinish = new ArrayList<>();
            for (RunReport report : reports) {
                if (!created.containsKey(report.id()) && !report.finishes().isEmpty()) {
                    toFinish.add(report);
                }
            }
            finishStored(connection, toFinish, now);
            return null;
        });
    }

    /** PostgreSQL's "no partition of relation ... found for row" (runs has no other check constraint). */
    private static boolean isMissingPartition(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            // A failed batch reports the statement's own error as its next exception.
            for (SQLException sql = cause instanceof SQLException first ? first : null; sql != null;
                    sql = sql.getNextException()) {
                if (CHECK_VIOLATION.equals(sql.getSQLState())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Run events skipped because they could never be stored. */
    public long rejectedEvents() {
        return rejectedEvents.get();
    }

    private <T> void accept(List<T> into, T event, boolean valid, String agentId) {
        if (valid) {
            into.add(event);
        } else {
            rejectedEvents.incrementAndGet();
            log.warn("skipping malformed run event from agent {}: {}", agentId, event);
        }
    }

    private static boolean valid(String runId, String taskId) {
        return isUuid(runId) && isUuid(taskId);
    }

    /** Scheduled fires carry no command id; manual runs carry their RunNow command's UUID. */
    private static boolean validCommand(String commandId) {
        return commandId.isEmpty() || isUuid(commandId);
    }

    private static UUID commandId(String commandId) {
        return commandId.isEmpty() ? null : UUID.fromString(commandId);
    }

    /**
     * Which part of a fire a run is: the whole fire, or one agent's copy of a broadcast fire (each
     * matching agent runs its own, so the agent joins the one-run-per-fire key).
     */
    private static String fireScope(String agentId, boolean broadcast) {
        return broadcast ? agentId : "";
    }

    private static boolean isUuid(String value) {
        try {
            UUID.fromString(value);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static void supersedeProvisional(Connection connection, List<RunStarted> started, List<RunFinished> finished)
            throws SQLException {
        List<Object> ids = new ArrayList<>();
        List<String> fireTimes = new ArrayList<>();
        FireSpan span = new FireSpan();
        for (RunStarted event : started) {
            ids.add(UUID.fromString(event.getRunId()));
            fireTimes.add(timestamp(event.getFireTime()));
            span.add(event.getFireTime());
        }
        for (RunFinished event : finished) {
            if (!event.getProvisional()) {
                ids.add(UUID.fromString(event.getRunId()));
                fireTimes.add(timestamp(event.getFireTime()));
                span.add(event.getFireTime());
            }
        }
        if (ids.isEmpty()) {
            return;
        }
        try (PreparedStatement delete = connection.prepareStatement(SUPERSEDE_PROVISIONAL)) {
            delete.setArray(1, connection.createArrayOf("uuid", ids.toArray()));
            delete.setArray(2, connection.createArrayOf("timestamptz", fireTimes.toArray()));
            span.bind(delete, 3);
            delete.executeUpdate();
        }
    }

    /**
     * Inserts each report's run as a new row; returns the id and stored output bytes of each run
     * it created (the others were stored already, or their fire was).
     */
    private static Map<UUID, Long> insertRuns(Connection connection, String agentId, String cluster,
            Collection<RunReport> reports, Map<UUID, Long> newOutput, OffsetDateTime now) throws SQLException {
        if (reports.isEmpty()) {
            return Map.of();
        }
        int size = reports.size();
        Object[] ids = new Object[size];
        Object[] taskIds = new Object[size];
        String[] fireTimes = new String[size];
        Integer[] attempts = new Integer[size];
        String[] triggers = new String[size];
        String[] statuses = new String[size];
        Long[] specVersions = new Long[size];
        String[] startedAt = new String[size];
        String[] finishedAt = new String[size];
        Integer[] exitCodes = new Integer[size];
        String[] errors = new String[size];
        Long[] outputBytes = new Long[size];
        Long[] chunkCounts = new Long[size];
        Long[] storedBytes = new Long[size];
        Object[] commandIds = new Object[size];
        String[] fireScopes = new String[size];
        Boolean[] provisional = new Boolean[size];
        String nowText = timestamp(now.toInstant());
        int i = 0;
        for (RunReport report : reports) {
            RunStarted start = report.start();
            RunFinished end = report.end();
            ids[i] = report.id();
            statuses[i] = report.state().name();
            storedBytes[i] = newOutput.getOrDefault(report.id(), 0L);
            if (start != null) {
                taskIds[i] = UUID.fromString(start.getTaskId());
                fireTimes[i] = timestamp(start.getFireTime());
                attempts[i] = start.getAttempt();
                triggers[i] = trigger(start.getTrigger());
                specVersions[i] = start.getSpecVersion();
                startedAt[i] = start.hasStartedAt() ? timestamp(start.getStartedAt()) : nowText;
                commandIds[i] = commandId(start.getCommandId());
                fireScopes[i] = fireScope(agentId, start.getBroadcast());
                provisional[i] = false;
            } else {
                taskIds[i] = UUID.fromString(end.getTaskId());
                fireTimes[i] = timestamp(end.getFireTime());
                attempts[i] = end.getAttempt();
                triggers[i] = trigger(end.getTrigger());
                specVersions[i] = end.getSpecVersion();
                startedAt[i] = end.hasStartedAt() ? timestamp(end.getStartedAt()) : null;
                commandIds[i] = commandId(end.getCommandId());
                fireScopes[i] = fireScope(agentId, end.getBroadcast());
                provisional[i] = end.getProvisional() && end.getStatus() == RunStatus.RUN_STATUS_MISSED;
            }
            if (end != null) {
                finishedAt[i] = timestamp(end.getFinishedAt());
                exitCodes[i] = end.getHasExitCode() ? end.getExitCode() : null;
                errors[i] = end.getError().isEmpty() ? null : end.getError();
                outputBytes[i] = end.getOutputBytes();
                chunkCounts[i] = end.getOutputChunkCount();
            } else {
                outputBytes[i] = 0L;
                chunkCounts[i] = 0L;
            }
            i++;
        }
        Map<UUID, Long> created = new LinkedHashMap<>();
        try (PreparedStatement insert = connection.prepareStatement(INSERT_RUNS)) {
            insert.setString(1, cluster);
            insert.setString(2, agentId);
            insert.setObject(3, now);
            insert.setObject(4, now);
            insert.setArray(5, connection.createArrayOf("uuid", ids));
            insert.setArray(6, connection.createArrayOf("uuid", taskIds));
            insert.setArray(7, connection.createArrayOf("text", fireTimes));
            insert.setArray(8, connection.createArrayOf("int4", attempts));
            insert.setArray(9, connection.createArrayOf("text", triggers));
            insert.setArray(10, connection.createArrayOf("text", statuses));
            insert.setArray(11, connection.createArrayOf("int8", specVersions));
            insert.setArray(12, connection.createArrayOf("text", startedAt));
            insert.setArray(13, connection.createArrayOf("text", finishedAt));
            insert.setArray(14, connection.createArrayOf("int4", exitCodes));
            insert.setArray(15, connection.createArrayOf("text", errors));
            insert.setArray(16, connection.createArrayOf("int8", outputBytes));
            insert.setArray(17, connection.createArrayOf("int8", chunkCounts));
            insert.setArray(18, connection.createArrayOf("int8", storedBytes));
            insert.setArray(19, connection.createArrayOf("uuid", commandIds));
            insert.setArray(20, connection.createArrayOf("text", fireScopes));
            insert.setArray(21, connection.createArrayOf("bool", provisional));
            try (ResultSet rows = insert.executeQuery()) {
                while (rows.next()) {
                    created.put(rows.getObject(1, UUID.class), rows.getLong(2));
                }
            }
        }
        return created;
    }

    /**
     * Applies the finishes of runs that were already stored, each only over a stored state the
     * state machine allows it from, in the order they arrived: the first that applies ends the run
     * (a later one could apply only over LOST, which no report leads to). Finishes of one run that
     * differ (not a mere redelivery) take one more round each.
     */
    private static void finishStored(Connection connection, List<RunReport> reports, OffsetDateTime now)
            throws SQLException {
        List<RunReport> pending = reports;
        for (int round = 0; !pending.isEmpty(); round++) {
            // Finishes that may follow the same stored states go in one statement.
            Map<String, List<RunReport>> bySources = new LinkedHashMap<>();
            for (RunReport report : pending) {
                RunFinished finish = report.finishes().get(round);
                bySources.computeIfAbsent(RunStateMachine.storedSourcesSql(finishEvent(finish)),
                        k -> new ArrayList<>()).add(report);
            }
            Set<UUID> finished = new HashSet<>();
            for (Map.Entry<String, List<RunReport>> group : bySources.entrySet()) {
                // An empty list: the finish is legal only from no row at all (SKIP, MISS).
                if (!group.getKey().isEmpty()) {
                    finished.addAll(finishStored(connection, group.getKey(), group.getValue(), round, now));
                }
            }
            List<RunReport> next = new ArrayList<>();
            for (RunReport report : pending) {
                if (!finished.contains(report.id()) && report.finishes().size() > round + 1) {
                    next.add(report);
                }
            }
            pending = next;
        }
    }

    private static Set<UUID> finishStored(Connection connection, String storedSources, List<RunReport> reports,
            int round, OffsetDateTime now) throws SQLException {
        int size = reports.size();
        Object[] ids = new Object[size];
        String[] statuses = new String[size];
        String[] finishedAt = new String[size];
        Integer[] exitCodes = new Integer[size];
        String[] errors = new String[size];
        Long[] outputBytes = new Long[size];
        Long[] chunkCounts = new Long[size];
        String[] fireTimes = new String[size];
        FireSpan span = new FireSpan();
        for (int i = 0; i < size; i++) {
            RunFinished event = reports.get(i).finishes().get(round);
            ids[i] = reports.get(i).id();
            statuses[i] = status(event.getStatus());
            finishedAt[i] = timestamp(event.getFinishedAt());
            exitCodes[i] = event.getHasExitCode() ? event.getExitCode() : null;
            errors[i] = event.getError().isEmpty() ? null : event.getError();
            outputBytes[i] = event.getOutputBytes();
            chunkCounts[i] = event.getOutputChunkCount();
            fireTimes[i] = timestamp(event.getFireTime());
            span.add(event.getFireTime());
        }
        Set<UUID> finished = new HashSet<>();
        try (PreparedStatement update = connection.prepareStatement(FINISH_STORED.formatted(storedSources))) {
            update.setObject(1, now);
            update.setArray(2, connection.createArrayOf("uuid", ids));
            update.setArray(3, connection.createArrayOf("text", statuses));
            update.setArray(4, connection.createArrayOf("text", finishedAt));
            update.setArray(5, connection.createArrayOf("int4", exitCodes));
            update.setArray(6, connection.createArrayOf("text", errors));
            update.setArray(7, connection.createArrayOf("int8", outputBytes));
            update.setArray(8, connection.createArrayOf("int8", chunkCounts));
            update.setArray(9, connection.createArrayOf("text", fireTimes));
            span.bind(update, 10);
            try (ResultSet rows = update.executeQuery()) {
                while (rows.next()) {
                    finished.add(rows.getObject(1, UUID.class));
                }
            }
        }
        return finished;
    }

    static RunEvent finishEvent(RunFinished finish) {
        return RunStateMachine.finishEvent(RunState.valueOf(status(finish.getStatus())));
    }

    /** Run status names as stored and shown: the proto name without its prefix. */
    static String status(RunStatus status) {
        return status.name().substring("RUN_STATUS_".length());
    }

    static String trigger(Trigger trigger) {
        return trigger == Trigger.TRIGGER_UNSPECIFIED ? "SCHEDULE" : trigger.name().substring("TRIGGER_".length());
    }

    private OffsetDateTime now() {
        return OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
    }

    /**
     * The earliest and latest fire time of a statement's runs, widened by the millisecond its
     * per-run match allows either side; bound as two timestamptz parameters.
     */
    private static final class FireSpan {
        private Instant earliest;
        private Instant latest;

        void add(com.google.protobuf.Timestamp fireTime) {
            Instant instant = Timestamps.toInstant(fireTime);
            if (earliest == null || instant.isBefore(earliest)) {
                earliest = instant;
            }
            if (latest == null || instant.isAfter(latest)) {
                latest = instant;
            }
        }

        void bind(PreparedStatement statement, int index) throws SQLException {
            statement.setObject(index, OffsetDateTime.ofInstant(earliest.minusMillis(1), ZoneOffset.UTC));
            statement.setObject(index + 1, OffsetDateTime.ofInstant(latest.plusMillis(1), ZoneOffset.UTC));
        }
    }

    /**
     * A timestamp as PostgreSQL text, rounded to its microseconds the way the JDBC driver rounds a
     * bound OffsetDateTime (half up), as earlier versions stored these columns: a replay of a run
     * stored by one of them carries the same key (id, fire_time) and conflicts, as it must.
     */
    static String timestamp(com.google.protobuf.Timestamp timestamp) {
        return timestamp(Timestamps.toInstant(timestamp));
    }

    static String timestamp(Instant instant) {
        int belowMicros = instant.getNano() % 1_000;
        instant = instant.minusNanos(belowMicros);
        return (belowMicros > 499 ? instant.plusNanos(1_000) : instant).toString();
    }
}
