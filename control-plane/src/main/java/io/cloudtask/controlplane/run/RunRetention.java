package io.cloudtask.controlplane.run;

import io.micronaut.context.annotation.Value;
import io.micronaut.data.connection.ConnectionDefinition;
import io.micronaut.data.connection.ConnectionOperations;
import io.micronaut.scheduling.annotation.Scheduled;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes old run history: runs (with their output) whose fire time is older than the maximum
 * age, and a task's oldest finished runs beyond the per-task maximum. Running runs are never
 * deleted. Only one replica works at a time: each step first takes a PostgreSQL advisory lock,
 * and a replica that finds it taken leaves the work to the holder.
 *
 * <p>A month wholly older than the maximum age whose partition holds no RUNNING run goes as a
 * whole: its partition is detached with {@code DETACH PARTITION ... CONCURRENTLY} (SHARE UPDATE
 * EXCLUSIVE on {@code runs}: inserts, updates and reads go on), renamed {@code runs_YYYY_MM_retired},
 * its runs' output chunks and rows are deleted in batches, and the emptied table is dropped (a
 * plain table by then: no lock on {@code runs}). Everything else (the partly expired month, a month
 * with a RUNNING run, the per-task limit) is deleted in batches, each a short transaction.
 */
@Singleton
class RunRetention {
    private static final Logger log = LoggerFactory.getLogger(RunRetention.class);
    /** Arbitrary constant identifying this job's advisory lock. */
    private static final long LOCK_KEY = 0x436c6f7564546173L;
    private static final String OLDER_THAN = "SELECT id FROM runs WHERE fire_time < ? AND status <> 'RUNNING' LIMIT ?";
    private static final String BEYOND_COUNT = "SELECT id FROM (SELECT id, status, row_number() OVER"
            + " (PARTITION BY task_id ORDER BY fire_time DESC, id DESC) AS position FROM runs) ranked"
            + " WHERE position > ? AND status <> 'RUNNING' LIMIT ?";
    /** Partitions left detach-pending by a DETACH ... CONCURRENTLY that was interrupted. */
    private static final String DETACH_PENDING = "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
            + " ON c.oid = i.inhrelid WHERE i.inhparent = 'runs'::regclass AND i.inhdetachpending";
    /** Month tables that are not (or no longer) partitions of runs: detached by retention. */
    private static final String RETIRED = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            + " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^runs_[0-9]{4}_[0-9]{2}(_retired)?$'"
            + " AND NOT c.relispartition";

    private final TransactionOperations<Connection> transactions;
    private final ConnectionOperations<Connection> connections;
    private final RunPartitions partitions;
    private final Clock clock;
    private final Duration maxAge;
    private final int maxRunsPerTask;
    private final int batchSize;

    RunRetention(TransactionOperations<Connection> transactions, ConnectionOperations<Connection> connections,
            RunPartitions partitions, Clock clock,
            @Value("${cloudtask.runs.retention.max-age:30d}") Duration maxAge,
            @Value("${cloudtask.runs.retention.max-runs-per-task:0}") int maxRunsPerTask,
            @Value("${cloudtask.runs.retention.batch-size:500}") int batchSize) {
        this.transactions = transactions;
        this.connections = connections;
        this.partitions = partitions;
        this.clock = clock;
        this.maxAge = maxAge;
        this.maxRunsPerTask = maxRunsPerTask;
        this.batchSize = batchSize;
    }

    @Scheduled(fixedDelay = "${cloudtask.runs.retention.interval:10m}", initialDelay = "1m")
    void scheduled() {
        try {
            long deleted = enforce();
            if (deleted > 0) {
                log.info("retention deleted {} run(s) older than {} or beyond {} per task", deleted, maxAge,
                        maxRunsPerTask == 0 ? "unlimited" : maxRunsPerTask);
            }
        } catch (Exception e) {
            // Exception: the transaction template rethrows a callback's SQLException as it is.
            log.warn("run retention failed, retrying at the next interval: {}", e.toString());
        }
    }

    /** Deletes everything retention allows now; returns the number of runs deleted. */
    long enforce() {
        Instant oldestKept = clock.instant().minus(maxAge);
        long deleted = 0;
        try {
            deleted += dropExpiredMonths(oldestKept);
        } catch (IllegalStateException e) {
            // The batches below delete the same runs row by row: slower, but retention goes on.
            log.warn("could not drop expired months of runs, deleting them in batches: {}", e.getMessage());
        }
        OffsetDateTime cutoff = OffsetDateTime.ofInstant(oldestKept, ZoneOffset.UTC);
        int batch;
        do {
            batch = deleteBatch(OLDER_THAN, statement -> statement.setObject(1, cutoff));
            deleted += Math.max(batch, 0);
        } while (batch == batchSize);
        if (maxRunsPerTask > 0 && batch >= 0) {
            do {
                batch = deleteBatch(BEYOND_COUNT, statement -> statement.setInt(1, maxRunsPerTask));
                deleted += Math.max(batch, 0);
            } while (batch == batchSize);
        }
        return deleted;
    }

    /**
     * Detaches the partitions of the months that ended before {@code oldestKept} and hold no RUNNING
     * run, then purges every detached month; returns the runs removed. Runs on a connection of its
     * own outside any transaction, as DETACH ... CONCURRENTLY requires, under the session form of
     * the job's advisory lock (released before the batched deletes take its transaction form).
     */
    private long dropExpiredMonths(Instant oldestKept) {
        return connections.execute(ConnectionDefinition.REQUIRES_NEW, status -> {
            Connection connection = status.getConnection();
            try {
                if (!connection.getAutoCommit()) {
                    throw new IllegalStateException("retention needs an autocommit connection to detach partitions");
                }
                if (!advisoryLock(connection, "pg_try_advisory_lock")) {
                    return 0L;
                }
                try (Statement statement = connection.createStatement()) {
                    statement.execute("SET lock_timeout = '" + RunPartitions.LOCK_TIMEOUT + "'");
                    for (String pending : names(connection, DETACH_PENDING)) {
                        statement.execute("ALTER TABLE runs DETACH PARTITION " + pending + " FINALIZE");
                    }
                    for (YearMonth month : RunPartitions.attached(connection)) {
                        if (!RunPartitions.start(month.plusMonths(1)).isAfter(oldestKept)
                                && !hasRunning(connection, RunPartitions.name(month))) {
                            String name = RunPartitions.name(month);
                            statement.execute("ALTER TABLE runs DETACH PARTITION " + name + " CONCURRENTLY");
                            statement.execute("ALTER TABLE " + name + " RENAME TO " + name + RunPartitions.RETIRED_SUFFIX);
                            log.info("retention detached the run partition of {}", month);
                        }
                    }
                    long purged = 0;
                    for (String detached : names(connection, RETIRED)) {
                        String retired = detached;
                        if (!detached.endsWith(RunPartitions.RETIRED_SUFFIX)) {
                            // Left by a pass that stopped before renaming it. Renamed first, so the
                            // month's name is free for a new partition (purge may create one).
                            retired = detached + RunPartitions.RETIRED_SUFFIX;
                            statement.execute("ALTER TABLE " + detached + " RENAME TO " + retired);
                        }
                        purged += purge(connection, retired);
                    }
                    return purged;
                } finally {
                    try (Statement statement = connection.createStatement()) {
                        statement.execute("RESET lock_timeout");
                    }
                    advisoryLock(connection, "pg_advisory_unlock");
                }
            } catch (SQLException e) {
                throw new IllegalStateException("dropping expired run partitions failed: " + e.getMessage(), e);
            }
        });
    }

    /**
     * Deletes a detached month's runs and their output in batches, then drops the empty table. A
     * RUNNING run found there (a replayed start that reached the partition just before it was
     * detached) goes back into {@code runs} instead: running runs are never deleted.
     */
    private long purge(Connection connection, String retired) throws SQLException {
        Set<YearMonth> runningMonths = new TreeSet<>();
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT DISTINCT fire_time FROM " + retired
                        + " WHERE status = 'RUNNING'")) {
            while (rows.next()) {
                runningMonths.add(RunPartitions.monthOf(rows.getObject(1, OffsetDateTime.class).toInstant()));
            }
        }
        if (!runningMonths.isEmpty()) {
            partitions.ensure(runningMonths);
            connection.setAutoCommit(false);
            try (Statement statement = connection.createStatement()) {
                statement.executeUpdate("INSERT INTO runs SELECT * FROM " + retired
                        + " WHERE status = 'RUNNING' ON CONFLICT DO NOTHING");
                statement.executeUpdate("DELETE FROM " + retired + " WHERE status = 'RUNNING'");
                connection.commit();
            } catch (SQLException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(true);
            }
        }
        String deleteBatch = "WITH batch AS (DELETE FROM " + retired + " WHERE id IN (SELECT id FROM " + retired
                + " LIMIT ?) RETURNING id), chunks AS (DELETE FROM run_output_chunks WHERE run_id IN"
                + " (SELECT id FROM batch)) SELECT count(*) FROM batch";
        long purged = 0;
        int batch;
        do {
            // Each batch is its own autocommit statement: short, and it holds no lock on runs.
            try (PreparedStatement delete = connection.prepareStatement(deleteBatch)) {
                delete.setInt(1, batchSize);
                try (ResultSet rows = delete.executeQuery()) {
                    rows.next();
                    batch = rows.getInt(1);
                }
            }
            purged += batch;
        } while (batch > 0);
        try (Statement statement = connection.createStatement()) {
            statement.execute("DROP TABLE " + retired);
        }
        log.info("retention dropped {} with its {} run(s) and their output", retired, purged);
        return purged;
    }

    private static boolean hasRunning(Connection connection, String partition) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT EXISTS (SELECT 1 FROM " + partition
                        + " WHERE status = 'RUNNING')")) {
            return rows.next() && rows.getBoolean(1);
        }
    }

    private static List<String> names(Connection connection, String query) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(query)) {
            while (rows.next()) {
                names.add(rows.getString(1));
            }
        }
        return names;
    }

    private static boolean advisoryLock(Connection connection, String function) throws SQLException {
        try (PreparedStatement lock = connection.prepareStatement("SELECT " + function + "(?)")) {
            lock.setLong(1, LOCK_KEY);
            try (ResultSet rows = lock.executeQuery()) {
                return rows.next() && rows.getBoolean(1);
            }
        }
    }

    private interface Binder {
        void bind(PreparedStatement statement) throws SQLException;
    }

    /** Deletes one batch; returns how many runs, or -1 when another replica holds the lock. */
    private int deleteBatch(String select, Binder binder) {
        return transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            if (!advisoryLock(connection, "pg_try_advisory_xact_lock")) {
                return -1;
            }
            List<UUID> ids = new ArrayList<>();
            try (PreparedStatement query = connection.prepareStatement(select)) {
                binder.bind(query);
                query.setInt(2, batchSize);
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        ids.add(rows.getObject(1, UUID.class));
                    }
                }
            }
            if (ids.isEmpty()) {
                return 0;
            }
            java.sql.Array array = connection.createArrayOf("uuid", ids.toArray());
            try (PreparedStatement chunks = connection.prepareStatement("DELETE FROM run_output_chunks WHERE run_id = ANY(?)");
                    PreparedStatement runs = connection.prepareStatement("DELETE FROM runs WHERE id = ANY(?)")) {
                chunks.setArray(1, array);
                chunks.executeUpdate();
                runs.setArray(1, array);
                return runs.executeUpdate();
            }
        });
    }
}
