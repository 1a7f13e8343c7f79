package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.testing.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * V9 on a database that already holds runs: the schema is migrated to V8, runs and output are
 * written as the V8 code wrote them, then V9 runs. Needs no control plane.
 */
class RunsPartitionMigrationTest {
    private static final String INSERT_RUN = "INSERT INTO runs (id, task_id, cluster, agent_id, fire_time, attempt,"
            + " trigger, status, spec_version, exit_code, output_bytes, created_at, updated_at, command_id, fire_scope)"
            + " VALUES (?, ?, 'default', 'agent-1', ?, 1, 'SCHEDULE', ?, 7, 3, 11, now(), now(), ?, ?)";

    private record OldRun(UUID id, Instant fireTime, String status, UUID commandId, String fireScope) {}

    @Test
    void movesEveryExistingRunIntoItsMonthsPartitionAndKeepsTheKeys() throws SQLException {
        TestDatabase.Coordinates database = TestDatabase.create();
        flyway(database, "8").migrate();
        UUID taskId = UUID.randomUUID();
        List<OldRun> runs = List.of(
                new OldRun(UUID.randomUUID(), Instant.parse("2025-12-31T23:59:59.999Z"), "SUCCEEDED", null, ""),
                new OldRun(UUID.randomUUID(), Instant.parse("2026-01-01T00:00:00Z"), "FAILED", null, ""),
                new OldRun(UUID.randomUUID(), Instant.parse("2026-01-01T00:00:00Z"), "SUCCEEDED", null, "agent-2"),
                new OldRun(UUID.randomUUID(), Instant.parse("2026-03-15T12:00:00Z"), "RUNNING", UUID.randomUUID(), ""));
        try (Connection connection = connect(database)) {
            for (OldRun run : runs) {
                try (PreparedStatement insert = connection.prepareStatement(INSERT_RUN)) {
                    insert.setObject(1, run.id());
                    insert.setObject(2, taskId);
                    insert.setObject(3, OffsetDateTime.ofInstant(run.fireTime(), ZoneOffset.UTC));
                    insert.setString(4, run.status());
                    insert.setObject(5, run.commandId());
                    insert.setString(6, run.fireScope());
                    insert.executeUpdate();
                }
            }
            try (Statement statement = connection.createStatement()) {
                statement.executeUpdate("INSERT INTO run_output_chunks VALUES ('" + runs.get(0).id()
                        + "', 0, 1, 'hello'::bytea)");
                // A session in another time zone must not shift the month bounds.
                statement.execute("ALTER DATABASE " + databaseName(database) + " SET TimeZone = 'America/Los_Angeles'");
            }
        }

        flyway(database, "9").migrate();

        try (Connection connection = connect(database)) {
            for (OldRun run : runs) {
                try (PreparedStatement select = connection.prepareStatement("SELECT tableoid::regclass::text, fire_time,"
                        + " status, exit_code, output_bytes, spec_version, command_id, fire_scope FROM runs WHERE id = ?")) {
                    select.setObject(1, run.id());
                    try (ResultSet rows = select.executeQuery()) {
                        assertThat(rows.next()).as("run %s survives", run.id()).isTrue();
                        assertThat(rows.getString(1)).isEqualTo(RunPartitions.name(RunPartitions.monthOf(run.fireTime())));
                        assertThat(rows.getObject(2, OffsetDateTime.class).toInstant()).isEqualTo(run.fireTime());
                        assertThat(rows.getString(3)).isEqualTo(run.status());
                        assertThat(rows.getInt(4)).isEqualTo(3);
                        assertThat(rows.getLong(5)).isEqualTo(11);
                        assertThat(rows.getLong(6)).isEqualTo(7);
                        assertThat(rows.getObject(7, UUID.class)).isEqualTo(run.commandId());
                        assertThat(rows.getString(8)).isEqualTo(run.fireScope());
                        assertThat(rows.next()).isFalse();
                    }
                }
            }
            assertThat(RunPartitions.attached(connection)).contains(YearMonth.of(2025, 12), YearMonth.of(2026, 1),
                    YearMonth.of(2026, 3), YearMonth.now(ZoneOffset.UTC), YearMonth.now(ZoneOffset.UTC).plusMonths(3))
                    .doesNotContain(YearMonth.of(2026, 2));
            assertThat(bounds(connection, "runs_2026_01")).isEqualTo(
                    "FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')");
            assertThat(indexColumns(connection, "runs_pkey")).isEqualTo("(id, fire_time)");
            assertThat(indexColumns(connection, "runs_one_per_fire")).isEqualTo("(task_id, fire_time, attempt, fire_scope)");
            assertThat(indexColumns(connection, "runs_one_per_command")).isEqualTo("(command_id, attempt, fire_time)");
            try (Statement statement = connection.createStatement();
                    ResultSet rows = statement.executeQuery("SELECT count(*) FROM runs")) {
                rows.next();
                assertThat(rows.getInt(1)).isEqualTo(runs.size());
            }
            try (Statement statement = connection.createStatement();
                    ResultSet rows = statement.executeQuery("SELECT count(*) FROM run_output_chunks")) {
                rows.next();
                assertThat(rows.getInt(1)).isEqualTo(1);
            }
        }
    }

    private static Flyway flyway(TestDatabase.Coordinates database, String target) {
        return Flyway.configure().dataSource(database.url(), database.user(), database.password())
                .locations("classpath:db/migration").target(target).load();
    }

    private static Connection connect(TestDatabase.Coordinates database) throws SQLException {
        return DriverManager.getConnection(database.url(), database.user(), database.password());
    }

    private static String databaseName(TestDatabase.Coordinates database) {
        String path = database.url().split("\\?")[0];
        return path.substring(path.lastIndexOf('/') + 1);
    }

    private static String bounds(Connection connection, String partition) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET TimeZone = 'UTC'");
            try (ResultSet rows = statement.executeQuery("SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
                    + " WHERE relname = '" + partition + "'")) {
                rows.next();
                return rows.getString(1);
            }
        }
    }

    /** The key columns of an index, as in its definition: "(a, b)". */
    private static String indexColumns(Connection connection, String index) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT pg_get_indexdef('" + index + "'::regclass)")) {
            rows.next();
            String definition = rows.getString(1);
            List<String> parts = new ArrayList<>(List.of(definition.split(" USING btree ")));
            String columns = parts.get(1);
            int where = columns.indexOf(" WHERE ");
            return where < 0 ? columns : columns.substring(0, where);
        }
    }
}
