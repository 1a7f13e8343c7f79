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
import java.sql.Types;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
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
 * is only written over a RUNNING one. Replaying any prefix of an agent's events therefore changes
 * nothing. A batch with a run in a month that has no partition yet creates that month's partition
 * first (in a transaction of its own) and is then stored again. Thread-safe; each call stores its
 * batch in one transaction.
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

    private static final String INSERT_STARTED = "INSERT INTO runs (id, task_id, cluster, agent_id, fire_time,"
            + " attempt, trigger, status, spec_version, started_at, created_at, updated_at, command_id, fire_scope)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
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
            + " AND f.fire_time + INTERVAL '1 millisecond' AND runs.status IN (%s) RETURNING runs.id";
    /** A finish whose start never arrived (or was already finished: then nothing happens). */
    private static final String INSERT_FINISHED = "INSERT INTO runs (id, task_id, cluster, agent_id, fire_time,"
            + " attempt, trigger, status, spec_version, started_at, finished_at, exit_code, error, output_bytes,"
            + " output_chunk_count, created_at, updated_at, command_id, fire_scope, provisional)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT DO NOTHING";
    /**
     * Removes provisional MISSED records (hand-over gaps) of fires that an agent reports for real;
     * the report is then stored as if nothing had been recorded. Matched like FINISH_STORED.
     */
    private static final String SUPERSEDE_PROVISIONAL = "DELETE FROM runs USING unnest(?::uuid[], ?::timestamptz[])"
            + " AS r(id, fire_time) WHERE runs.id = r.id AND runs.fire_time BETWEEN r.fire_time - INTERVAL '1 millisecond'"
            + " AND r.fire_time + INTERVAL '1 millisecond' AND runs.provisional";

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
        try {
            store(agentId, cluster, started, chunks, finished);
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
            store(agentId, cluster, started, chunks, finished);
        }
    }

    private void store(String agentId, String cluster, List<RunStarted> started, List<OutputChunk> chunks,
            List<RunFinished> finished) {
        transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            supersedeProvisional(connection, started, finished);
            insertStarted(connection, agentId, cluster, started);
            outputCap.store(connection, chunks);
            finish(connection, agentId, cluster, finished);
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
        for (RunStarted event : started) {
            ids.add(UUID.fromString(event.getRunId()));
            fireTimes.add(time(event.getFireTime()).toString());
        }
        for (RunFinished event : finished) {
            if (!event.getProvisional()) {
                ids.add(UUID.fromString(event.getRunId()));
                fireTimes.add(time(event.getFireTime()).toString());
            }
        }
        if (ids.isEmpty()) {
            return;
        }
        try (PreparedStatement delete = connection.prepareStatement(SUPERSEDE_PROVISIONAL)) {
            delete.setArray(1, connection.createArrayOf("uuid", ids.toArray()));
            delete.setArray(2, connection.createArrayOf("timestamptz", fireTimes.toArray()));
            delete.executeUpdate();
        }
    }

    private void insertStarted(Connection connection, String agentId, String cluster, List<RunStarted> events)
            throws SQLException {
        if (events.isEmpty()) {
            return;
        }
        OffsetDateTime now = now();
        try (PreparedStatement insert = connection.prepareStatement(INSERT_STARTED)) {
            for (RunStarted event : events) {
                insert.setObject(1, UUID.fromString(event.getRunId()));
                insert.setObject(2, UUID.fromString(event.getTaskId()));
                insert.setString(3, cluster);
                insert.setString(4, agentId);
                insert.setObject(5, time(event.getFireTime()));
                insert.setInt(6, event.getAttempt());
                insert.setString(7, trigger(event.getTrigger()));
                insert.setLong(8, event.getSpecVersion());
                insert.setObject(9, event.hasStartedAt() ? time(event.getStartedAt()) : now);
                insert.setObject(10, now);
                insert.setObject(11, now);
                insert.setObject(12, commandId(event.getCommandId()), Types.OTHER);
                insert.setString(13, fireScope(agentId, event.getBroadcast()));
                insert.addBatch();
            }
            insert.executeBatch();
        }
    }

    private void finish(Connection connection, String agentId, String cluster, List<RunFinished> events)
            throws SQLException {
        if (events.isEmpty()) {
            return;
        }
        OffsetDateTime now = now();
        // Finishes that may follow the same stored states go in one statement.
        Map<String, List<RunFinished>> bySources = new LinkedHashMap<>();
        for (RunFinished event : events) {
            RunEvent runEvent = RunStateMachine.finishEvent(RunState.valueOf(status(event.getStatus())));
            bySources.computeIfAbsent(RunStateMachine.storedSourcesSql(runEvent), k -> new ArrayList<>()).add(event);
        }
        Set<UUID> finished = new HashSet<>();
        for (Map.Entry<String, List<RunFinished>> group : bySources.entrySet()) {
            if (!group.getKey().isEmpty()) {
                finished.addAll(finishStored(connection, group.getKey(), group.getValue(), now));
            }
        }
        // The rest have no stored run in a state they may follow: record those that have no run
        // at all (NONE is a legal source); a run in another state stays as it is.
        try (PreparedStatement insert = connection.prepareStatement(INSERT_FINISHED)) {
            boolean any = false;
            for (RunFinished event : events) {
                UUID runId = UUID.fromString(event.getRunId());
                if (finished.contains(runId)) {
                    continue;
                }
                any = true;
                insert.setObject(1, runId);
                insert.setObject(2, UUID.fromString(event.getTaskId()));
                insert.setString(3, cluster);
                insert.setString(4, agentId);
                insert.setObject(5, time(event.getFireTime()));
                insert.setInt(6, event.getAttempt());
                insert.setString(7, trigger(event.getTrigger()));
                insert.setString(8, status(event.getStatus()));
                insert.setLong(9, event.getSpecVersion());
                insert.setObject(10, event.hasStartedAt() ? time(event.getStartedAt()) : null);
                insert.setObject(11, time(event.getFinishedAt()));
                setExitCode(insert, 12, event);
                insert.setString(13, event.getError().isEmpty() ? null : event.getError());
                insert.setLong(14, event.getOutputBytes());
                insert.setLong(15, event.getOutputChunkCount());
                insert.setObject(16, now);
                insert.setObject(17, now);
                insert.setObject(18, commandId(event.getCommandId()), Types.OTHER);
                insert.setString(19, fireScope(agentId, event.getBroadcast()));
                insert.setBoolean(20, event.getProvisional() && event.getStatus() == RunStatus.RUN_STATUS_MISSED);
                insert.addBatch();
            }
            if (any) {
                insert.executeBatch();
            }
        }
    }

    private static Set<UUID> finishStored(Connection connection, String storedSources, List<RunFinished> events,
            OffsetDateTime now) throws SQLException {
        int size = events.size();
        Object[] ids = new Object[size];
        String[] statuses = new String[size];
        String[] finishedAt = new String[size];
        Integer[] exitCodes = new Integer[size];
        String[] errors = new String[size];
        Long[] outputBytes = new Long[size];
        Long[] chunkCounts = new Long[size];
        String[] fireTimes = new String[size];
        for (int i = 0; i < size; i++) {
            RunFinished event = events.get(i);
            ids[i] = UUID.fromString(event.getRunId());
            statuses[i] = status(event.getStatus());
            finishedAt[i] = time(event.getFinishedAt()).toString();
            exitCodes[i] = event.getHasExitCode() ? event.getExitCode() : null;
            errors[i] = event.getError().isEmpty() ? null : event.getError();
            outputBytes[i] = event.getOutputBytes();
            chunkCounts[i] = event.getOutputChunkCount();
            fireTimes[i] = time(event.getFireTime()).toString();
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
            try (ResultSet rows = update.executeQuery()) {
                while (rows.next()) {
                    finished.add(rows.getObject(1, UUID.class));
                }
            }
        }
        return finished;
    }

    private static void setExitCode(PreparedStatement statement, int index, RunFinished event) throws SQLException {
        if (event.getHasExitCode()) {
            statement.setInt(index, event.getExitCode());
        } else {
            statement.setNull(index, Types.INTEGER);
        }
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

    private static OffsetDateTime time(com.google.protobuf.Timestamp timestamp) {
        return OffsetDateTime.ofInstant(Timestamps.toInstant(timestamp), ZoneOffset.UTC);
    }
}
