package io.cloudtask.controlplane.run;

import io.micronaut.context.annotation.Value;
import io.micronaut.scheduling.annotation.Scheduled;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes old run history: runs (with their output) whose fire time is older than the maximum
 * age, and a task's oldest finished runs beyond the per-task maximum. Deletes in small batches,
 * each its own short transaction, so it never holds long locks. Each batch first takes a
 * transaction-scoped PostgreSQL advisory lock, so replicas don't delete side by side: one that
 * finds the lock taken leaves the work to the holder. Running runs are never deleted.
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

    private final TransactionOperations<Connection> transactions;
    private final Clock clock;
    private final Duration maxAge;
    private final int maxRunsPerTask;
    private final int batchSize;

    RunRetention(TransactionOperations<Connection> transactions, Clock clock,
            @Value("${cloudtask.runs.retention.max-age:30d}") Duration maxAge,
            @Value("${cloudtask.runs.retention.max-runs-per-task:0}") int maxRunsPerTask,
            @Value("${cloudtask.runs.retention.batch-size:500}") int batchSize) {
        this.transactions = transactions;
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
        } catch (RuntimeException e) {
            log.warn("run retention failed, retrying at the next interval: {}", e.toString());
        }
    }

    /** Deletes everything retention allows now; returns the number of runs deleted. */
    long enforce() {
        long deleted = 0;
        OffsetDateTime cutoff = OffsetDateTime.ofInstant(clock.instant().minus(maxAge), ZoneOffset.UTC);
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

    private interface Binder {
        void bind(PreparedStatement statement) throws java.sql.SQLException;
    }

    /** Deletes one batch; returns how many runs, or -1 when another replica holds the lock. */
    private int deleteBatch(String select, Binder binder) {
        return transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            try (PreparedStatement lock = connection.prepareStatement("SELECT pg_try_advisory_xact_lock(?)")) {
                lock.setLong(1, LOCK_KEY);
                try (ResultSet rows = lock.executeQuery()) {
                    if (!rows.next() || !rows.getBoolean(1)) {
                        return -1;
                    }
                }
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
