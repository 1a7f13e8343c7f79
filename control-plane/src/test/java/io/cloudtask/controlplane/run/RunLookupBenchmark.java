package io.cloudtask.controlplane.run;

import io.cloudtask.controlplane.testing.TestDatabase;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.flywaydb.core.Flyway;

/**
 * Times looking a run up by id alone ({@code GET /runs/{id}}: every monthly partition's primary
 * key index is probed) against by id and fire time (pruned to one partition) and against the
 * same rows in one unpartitioned table. Not a test: run it and record the figures in
 * docs/BENCHMARKS.md with the command that produced them.
 */
public final class RunLookupBenchmark {
    private static final PrintStream OUT = System.out;
    private static final int MONTHS = 24;
    private static final int RUNS_PER_MONTH = 20_000;
    private static final int WARMUP = 2_000;
    private static final int MEASURED = 5_000;

    private RunLookupBenchmark() {}

    public static void main(String[] args) throws SQLException {
        TestDatabase.Coordinates database = TestDatabase.create();
        Flyway.configure().dataSource(database.url(), database.user(), database.password())
                .locations("classpath:db/migration").load().migrate();
        try (Connection connection = DriverManager.getConnection(database.url(), database.user(), database.password())) {
            // The migration made the current month and three ahead; 20 months of history make 24.
            YearMonth first = YearMonth.now(ZoneOffset.UTC).minusMonths(MONTHS - 4);
            fill(connection, first);
            List<UUID> ids = new ArrayList<>();
            List<OffsetDateTime> fireTimes = new ArrayList<>();
            try (Statement statement = connection.createStatement();
                    ResultSet rows = statement.executeQuery("SELECT id, fire_time FROM runs ORDER BY random() LIMIT "
                            + (WARMUP + MEASURED))) {
                while (rows.next()) {
                    ids.add(rows.getObject(1, UUID.class));
                    fireTimes.add(rows.getObject(2, OffsetDateTime.class));
                }
            }
            OUT.printf("%d monthly partitions x %d runs; %d lookups after %d warm-up%n", MONTHS, RUNS_PER_MONTH,
                    MEASURED, WARMUP);
            OUT.printf("%-44s %8s %8s %8s%n", "lookup", "p50 µs", "p99 µs", "max µs");
            time(connection, "runs by id (GET /runs/{id})", "SELECT * FROM runs WHERE id = ?", ids, null);
            time(connection, "runs by id and fire time (pruned)", "SELECT * FROM runs WHERE id = ? AND fire_time = ?",
                    ids, fireTimes);
            time(connection, "one unpartitioned table by id", "SELECT * FROM runs_flat WHERE id = ?", ids, null);
        }
    }

    private static void fill(Connection connection, YearMonth first) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            Set<YearMonth> existing = RunPartitions.attached(connection);
            for (int i = 0; i < MONTHS; i++) {
                YearMonth month = first.plusMonths(i);
                if (existing.contains(month)) {
                    continue;
                }
                String name = RunPartitions.name(month);
                statement.execute("CREATE TABLE " + name + " (LIKE runs INCLUDING DEFAULTS)");
                statement.execute("ALTER TABLE runs ATTACH PARTITION " + name + " FOR VALUES FROM ('"
                        + RunPartitions.start(month) + "') TO ('" + RunPartitions.start(month.plusMonths(1)) + "')");
            }
            // Runs spread evenly over the months, a minute apart, finished, in one task per 100.
            statement.execute("INSERT INTO runs (id, task_id, cluster, agent_id, fire_time, attempt, trigger, status,"
                    + " spec_version, started_at, finished_at, exit_code, created_at, updated_at)"
                    + " SELECT gen_random_uuid(), md5((n % " + (MONTHS * RUNS_PER_MONTH / 100) + ")::text)::uuid,"
                    + " 'default', 'agent-' || (n % 50), '" + RunPartitions.start(first) + "'::timestamptz"
                    + " + (n % " + MONTHS + ") * INTERVAL '1 month' + (n / " + MONTHS + ") * INTERVAL '1 minute',"
                    + " 1, 'SCHEDULE', 'SUCCEEDED', 1, now(), now(), 0, now(), now()"
                    + " FROM generate_series(0, " + (MONTHS * RUNS_PER_MONTH - 1) + ") AS n");
            statement.execute("CREATE TABLE runs_flat AS SELECT * FROM runs");
            statement.execute("ALTER TABLE runs_flat ADD PRIMARY KEY (id)");
            statement.execute("VACUUM ANALYZE runs");
            statement.execute("VACUUM ANALYZE runs_flat");
        }
    }

    private static void time(Connection connection, String label, String sql, List<UUID> ids,
            List<OffsetDateTime> fireTimes) throws SQLException {
        long[] micros = new long[MEASURED];
        try (PreparedStatement select = connection.prepareStatement(sql)) {
            for (int i = 0; i < WARMUP + MEASURED; i++) {
                select.setObject(1, ids.get(i));
                if (fireTimes != null) {
                    select.setObject(2, fireTimes.get(i));
                }
                long start = System.nanoTime();
                try (ResultSet rows = select.executeQuery()) {
                    if (!rows.next()) {
                        throw new IllegalStateException("run " + ids.get(i) + " not found by " + label);
                    }
                }
                if (i >= WARMUP) {
                    micros[i - WARMUP] = (System.nanoTime() - start) / 1_000;
                }
            }
        }
        Arrays.sort(micros);
        OUT.printf("%-44s %8d %8d %8d%n", label, micros[MEASURED / 2], micros[MEASURED * 99 / 100],
                micros[MEASURED - 1]);
    }
}
