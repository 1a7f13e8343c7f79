package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.data.connection.ConnectionOperations;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Monthly partitions of runs: created ahead and on demand, idempotent ingestion, retention by month. */
@MicronautTest(environments = "test", transactional = false)
class RunPartitionsTest extends ControlPlaneTest {
    @Inject
    RunIngestion ingestion;

    @Inject
    RunPartitions partitions;

    @Inject
    TransactionOperations<Connection> transactions;

    @Inject
    ConnectionOperations<Connection> connections;

    @Override
    protected Map<String, String> extraProperties() {
        // The runs left RUNNING here belong to agents ZooKeeper never saw: keep them RUNNING.
        return Map.of("cloudtask.runs.lost-grace", "1h");
    }

    private static Clock clockAt(String instant) {
        return Clock.fixed(Instant.parse(instant), ZoneOffset.UTC);
    }

    @Test
    void createsTheCurrentMonthAndTheMonthsAhead() {
        RunPartitions ahead = new RunPartitions(transactions, clockAt("2031-01-31T23:59:59Z"), 2);

        assertThat(ahead.createAhead()).isEqualTo(3);
        assertThat(ahead.createAhead()).isZero();

        assertThat(partitions.attached()).contains(YearMonth.of(2031, 1), YearMonth.of(2031, 2), YearMonth.of(2031, 3))
                .doesNotContain(YearMonth.of(2031, 4), YearMonth.of(2030, 12));
        RunEvents firstInstantOfFebruary = new RunEvents(UUID.randomUUID().toString(),
                Instant.parse("2031-02-01T00:00:00Z"));
        ingestion.ingest("agent-ahead", "default", List.of(firstInstantOfFebruary.started()));
        assertThat(rows(firstInstantOfFebruary.runId())).containsExactly("runs_2031_02 RUNNING");
    }

    @Test
    void ingestionCreatesAMissingMonthAndAReplayStoresNothingTwice() {
        RunEvents fire = new RunEvents(UUID.randomUUID().toString(), Instant.parse("2019-03-10T08:00:00Z"));
        assertThat(partitions.attached()).doesNotContain(YearMonth.of(2019, 3));

        List<AgentMessage> events = List.of(fire.started(), fire.chunk(0, bytes("out")),
                fire.finished(RunStatus.RUN_STATUS_SUCCEEDED));
        ingestion.ingest("agent-old", "default", events);
        ingestion.ingest("agent-old", "default", events);
        ingestion.ingest("agent-old", "default", List.of(fire.started()));

        assertThat(partitions.attached()).contains(YearMonth.of(2019, 3));
        assertThat(rows(fire.runId())).containsExactly("runs_2019_03 SUCCEEDED");
        assertThat(chunkCount(fire.runId())).isEqualTo(1);
    }

    @Test
    void replaysOnBothSidesOfAMonthBoundaryStoreOneRunEach() {
        String taskId = UUID.randomUUID().toString();
        RunEvents lastOfApril = new RunEvents(taskId, Instant.parse("2026-04-30T23:59:59.999Z"));
        RunEvents firstOfMay = new RunEvents(taskId, Instant.parse("2026-05-01T00:00:00Z"));
        // A finish without its start, then the start replayed after it: one run, still finished.
        List<AgentMessage> batch = List.of(lastOfApril.started(), firstOfMay.finished(RunStatus.RUN_STATUS_FAILED),
                lastOfApril.finished(RunStatus.RUN_STATUS_SUCCEEDED), firstOfMay.started());
        for (int replay = 0; replay < 3; replay++) {
            ingestion.ingest("agent-edge", "default", batch);
        }

        assertThat(rows(lastOfApril.runId())).containsExactly("runs_2026_04 SUCCEEDED");
        assertThat(rows(firstOfMay.runId())).containsExactly("runs_2026_05 FAILED");
    }

    @Test
    void aManualRunReplayedIsStoredOnce() {
        String taskId = UUID.randomUUID().toString();
        String commandId = UUID.randomUUID().toString();
        Instant requestedAt = Instant.parse("2026-05-31T23:59:59.999999Z");
        String runId = RunIds.commandRunId(taskId, commandId, 1);
        AgentMessage started = AgentMessage.newBuilder().setRunStarted(RunStarted.newBuilder().setRunId(runId)
                .setTaskId(taskId).setCommandId(commandId).setFireTime(Timestamps.of(requestedAt)).setAttempt(1)
                .setTrigger(Trigger.TRIGGER_MANUAL).setSpecVersion(1)).build();
        AgentMessage finished = AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder().setRunId(runId)
                .setTaskId(taskId).setCommandId(commandId).setFireTime(Timestamps.of(requestedAt)).setAttempt(1)
                .setTrigger(Trigger.TRIGGER_MANUAL).setSpecVersion(1).setFinishedAt(Timestamps.of(requestedAt))
                .setStatus(RunStatus.RUN_STATUS_KILLED)).build();

        ingestion.ingest("agent-manual", "default", List.of(started));
        ingestion.ingest("agent-manual", "default", List.of(started, finished));
        ingestion.ingest("agent-manual", "default", List.of(finished, started));

        assertThat(rows(runId)).containsExactly("runs_2026_05 KILLED");
    }

    @Test
    void retentionDropsExpiredMonthsWholeAndDeletesTheRestInBatches() {
        String taskId = UUID.randomUUID().toString();
        String otherTask = UUID.randomUUID().toString();
        // Now is 2040-03-10 and runs are kept 30 days: January ended before 2040-02-09 (oldest kept).
        RunEvents januaryOne = new RunEvents(taskId, Instant.parse("2040-01-01T00:00:00Z"));
        RunEvents januaryTwo = new RunEvents(taskId, Instant.parse("2040-01-31T23:59:59Z"));
        RunEvents februaryExpired = new RunEvents(taskId, Instant.parse("2040-02-01T00:00:00Z"));
        RunEvents februaryKept = new RunEvents(otherTask, Instant.parse("2040-02-20T00:00:00Z"));
        List<RunEvents> march = new ArrayList<>();
        for (int day = 1; day <= 4; day++) {
            march.add(new RunEvents(taskId, Instant.parse("2040-03-0" + day + "T00:00:00Z")));
        }
        // December holds a run still RUNNING: its month stays, its finished run goes in a batch.
        RunEvents decemberRunning = new RunEvents(otherTask, Instant.parse("2039-12-05T00:00:00Z"));
        RunEvents decemberDone = new RunEvents(otherTask, Instant.parse("2039-12-06T00:00:00Z"));
        List<RunEvents> finished = new ArrayList<>(List.of(januaryOne, januaryTwo, februaryExpired, februaryKept,
                decemberDone));
        finished.addAll(march);
        for (RunEvents fire : finished) {
            ingestion.ingest("agent-retain", "default", List.of(fire.started(), fire.chunk(0, bytes("a")),
                    fire.chunk(1, bytes("b")), fire.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        }
        ingestion.ingest("agent-retain", "default", List.of(decemberRunning.started(), decemberRunning.chunk(0, bytes("c"))));

        RunRetention retention = new RunRetention(transactions, connections, partitions,
                clockAt("2040-03-10T00:00:00Z"), Duration.ofDays(30), 3, 2);
        long deleted = retention.enforce();

        assertThat(partitions.attached()).doesNotContain(YearMonth.of(2040, 1))
                .contains(YearMonth.of(2039, 12), YearMonth.of(2040, 2), YearMonth.of(2040, 3));
        assertThat(tableExists("runs_2040_01")).isFalse();
        assertThat(tableExists("runs_2040_01_retired")).isFalse();
        for (RunEvents gone : List.of(januaryOne, januaryTwo, februaryExpired, decemberDone, march.get(0))) {
            assertThat(rows(gone.runId())).as("run of %s", gone.fireTime()).isEmpty();
            assertThat(chunkCount(gone.runId())).as("output of %s", gone.fireTime()).isZero();
        }
        // The per-task limit (3) keeps the task's newest: March 2-4.
        assertThat(rows(februaryKept.runId())).containsExactly("runs_2040_02 SUCCEEDED");
        for (RunEvents kept : march.subList(1, 4)) {
            assertThat(rows(kept.runId())).containsExactly("runs_2040_03 SUCCEEDED");
            assertThat(chunkCount(kept.runId())).isEqualTo(2);
        }
        assertThat(rows(decemberRunning.runId())).containsExactly("runs_2039_12 RUNNING");
        assertThat(chunkCount(decemberRunning.runId())).isEqualTo(1);
        assertThat(deleted).isGreaterThanOrEqualTo(5);

        // A late replay of a January run finds no partition: the month comes back for it alone.
        ingestion.ingest("agent-retain", "default", List.of(januaryOne.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        assertThat(rows(januaryOne.runId())).containsExactly("runs_2040_01 SUCCEEDED");
        retention.enforce();
        assertThat(rows(januaryOne.runId())).isEmpty();
        assertThat(partitions.attached()).doesNotContain(YearMonth.of(2040, 1));
    }

    @Test
    void retentionFinishesAMonthAnInterruptedPassDetachedAndKeepsItsRunningRun() {
        String taskId = UUID.randomUUID().toString();
        RunEvents running = new RunEvents(taskId, Instant.parse("2041-05-01T00:00:00Z"));
        RunEvents done = new RunEvents(taskId, Instant.parse("2041-05-02T00:00:00Z"));
        ingestion.ingest("agent-crash", "default", List.of(running.started(), running.chunk(0, bytes("r")),
                done.started(), done.chunk(0, bytes("d")), done.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        // A pass that stopped right after detaching the month, before renaming it.
        transactions.executeWrite(status -> {
            try (PreparedStatement detach = status.getConnection().prepareStatement(
                    "ALTER TABLE runs DETACH PARTITION runs_2041_05")) {
                detach.execute();
            }
            return null;
        });
        assertThat(rows(running.runId())).isEmpty();

        new RunRetention(transactions, connections, partitions, clockAt("2041-05-03T00:00:00Z"), Duration.ofDays(30),
                0, 500).enforce();

        assertThat(rows(running.runId())).containsExactly("runs_2041_05 RUNNING");
        assertThat(chunkCount(running.runId())).isEqualTo(1);
        assertThat(rows(done.runId())).isEmpty();
        assertThat(chunkCount(done.runId())).isZero();
        assertThat(tableExists("runs_2041_05_retired")).isFalse();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** Each stored row of the run as "partition STATUS". */
    private List<String> rows(String runId) {
        return transactions.executeRead(status -> {
            List<String> rows = new ArrayList<>();
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT tableoid::regclass::text, status FROM runs WHERE id = ?")) {
                select.setObject(1, UUID.fromString(runId));
                try (ResultSet result = select.executeQuery()) {
                    while (result.next()) {
                        rows.add(result.getString(1) + " " + result.getString(2));
                    }
                }
            }
            return rows;
        });
    }

    private long chunkCount(String runId) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement(
                    "SELECT count(*) FROM run_output_chunks WHERE run_id = ?")) {
                select.setObject(1, UUID.fromString(runId));
                try (ResultSet result = select.executeQuery()) {
                    result.next();
                    return result.getLong(1);
                }
            }
        });
    }

    private boolean tableExists(String table) {
        return transactions.executeRead(status -> {
            try (PreparedStatement select = status.getConnection().prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                select.setString(1, table);
                try (ResultSet result = select.executeQuery()) {
                    result.next();
                    return result.getBoolean(1);
                }
            }
        });
    }
}
