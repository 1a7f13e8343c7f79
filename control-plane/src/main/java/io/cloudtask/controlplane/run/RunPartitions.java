package io.cloudtask.controlplane.run;

import io.micronaut.context.annotation.Value;
import io.micronaut.scheduling.annotation.Scheduled;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.NavigableSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The monthly partitions of {@code runs} (RANGE on fire_time, one per calendar month in UTC,
 * named {@code runs_YYYY_MM}; V9 made the table partitioned). There is no default partition, so
 * a month must have its partition before a run of it is inserted: this class creates the current
 * month and the next {@code cloudtask.runs.partitions.months-ahead} ahead of time, and ingestion
 * asks it for any other month on demand (a late replay of an old run).
 *
 * <p>A partition is created as a plain table and then attached: ATTACH PARTITION takes only a
 * SHARE UPDATE EXCLUSIVE lock on {@code runs}, which inserts, updates and reads do not wait for
 * (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE). Creators on all replicas take one
 * advisory lock, so two never race for the same month. Thread-safe.
 */
@Singleton
class RunPartitions {
    private static final Logger log = LoggerFactory.getLogger(RunPartitions.class);
    /** Arbitrary constant identifying the partition creators' advisory lock. */
    private static final long CREATE_LOCK_KEY = 0x52756e5061727473L;
    private static final Pattern PARTITION_NAME = Pattern.compile("runs_(\\d{4})_(\\d{2})");
    /** A month whose partition retention detached; its rows and their output are being purged. */
    static final String RETIRED_SUFFIX = "_retired";
    private static final String ATTACHED = "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            + " WHERE i.inhparent = 'runs'::regclass";
    /**
     * Bounds how long partition DDL waits for a lock: a creator waiting behind, say, a running
     * VACUUM gives up (and its caller retries) rather than queueing for long.
     */
    static final String LOCK_TIMEOUT = "5s";

    private final TransactionOperations<Connection> transactions;
    private final Clock clock;
    private final int monthsAhead;

    RunPartitions(TransactionOperations<Connection> transactions, Clock clock,
            @Value("${cloudtask.runs.partitions.months-ahead:3}") int monthsAhead) {
        if (monthsAhead < 0) {
            throw new IllegalArgumentException("cloudtask.runs.partitions.months-ahead must be 0 or more, not "
                    + monthsAhead);
        }
        this.transactions = transactions;
        this.clock = clock;
        this.monthsAhead = monthsAhead;
    }

    /** The partition holding runs fired in {@code month}. */
    static String name(YearMonth month) {
        return "runs_%04d_%02d".formatted(month.getYear(), month.getMonthValue());
    }

    /** The month of {@code name} when it names a month's partition (retired or not), else null. */
    static YearMonth month(String name) {
        String base = name.endsWith(RETIRED_SUFFIX) ? name.substring(0, name.length() - RETIRED_SUFFIX.length()) : name;
        Matcher matcher = PARTITION_NAME.matcher(base);
        return matcher.matches()
                ? YearMonth.of(Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2))) : null;
    }

    static YearMonth monthOf(Instant instant) {
        return YearMonth.from(instant.atOffset(ZoneOffset.UTC));
    }

    /** The first instant of {@code month} in UTC: a partition's lower bound (inclusive). */
    static Instant start(YearMonth month) {
        return month.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
    }

    @Scheduled(fixedDelay = "${cloudtask.runs.retention.interval:10m}", initialDelay = "5s")
    void scheduled() {
        try {
            createAhead();
        } catch (Exception e) {
            // Exception: the transaction template rethrows a callback's SQLException as it is.
            log.warn("creating the coming months' run partitions failed, retrying at the next interval"
                    + " (ingestion creates a missing month itself): {}", e.toString());
        }
    }

    /** Creates the partitions of the current month and the months ahead that are missing. */
    int createAhead() {
        YearMonth current = monthOf(clock.instant());
        NavigableSet<YearMonth> months = new TreeSet<>();
        for (int i = 0; i <= monthsAhead; i++) {
            months.add(current.plusMonths(i));
        }
        return ensure(months);
    }

    /** The months whose partitions are attached to {@code runs}, oldest first. */
    NavigableSet<YearMonth> attached() {
        return transactions.executeRead(status -> attached(status.getConnection()));
    }

    static NavigableSet<YearMonth> attached(Connection connection) throws SQLException {
        NavigableSet<YearMonth> months = new TreeSet<>();
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(ATTACHED)) {
            while (rows.next()) {
                YearMonth month = month(rows.getString(1));
                if (month != null && !rows.getString(1).endsWith(RETIRED_SUFFIX)) {
                    months.add(month);
                }
            }
        }
        return months;
    }

    /**
     * Creates the partitions of {@code months} that are missing, in one short transaction of its
     * own; returns how many it created.
     */
    int ensure(Collection<YearMonth> months) {
        if (months.isEmpty()) {
            return 0;
        }
        int created = transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            try (Statement statement = connection.createStatement()) {
                statement.execute("SET LOCAL lock_timeout = '" + LOCK_TIMEOUT + "'");
                statement.execute("SELECT pg_advisory_xact_lock(" + CREATE_LOCK_KEY + ")");
            }
            NavigableSet<YearMonth> existing = attached(connection);
            int count = 0;
            for (YearMonth month : new TreeSet<>(months)) {
                if (!existing.contains(month)) {
                    create(connection, month);
                    count++;
                }
            }
            return count;
        });
        if (created > 0) {
            log.info("created {} run partition(s) for {}", created, months);
        }
        return created;
    }

    private static void create(Connection connection, YearMonth month) throws SQLException {
        String name = name(month);
        try (Statement statement = connection.createStatement()) {
            if (exists(connection, name)) {
                // Left by a retention pass that stopped between detaching this month and renaming
                // it: it holds expired rows that retention still purges under the retired name.
                statement.execute("ALTER TABLE " + name + " RENAME TO " + name + RETIRED_SUFFIX);
            }
            statement.execute("CREATE TABLE " + name + " (LIKE runs INCLUDING DEFAULTS)");
            statement.execute("ALTER TABLE runs ATTACH PARTITION " + name + " FOR VALUES FROM ('"
                    + start(month) + "') TO ('" + start(month.plusMonths(1)) + "')");
        }
    }

    private static boolean exists(Connection connection, String table) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            select.setString(1, table);
            try (ResultSet rows = select.executeQuery()) {
                return rows.next() && rows.getBoolean(1);
            }
        }
    }
}
