package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunStatus;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * One batch carries several events of one run (ingestion writes a run started and finished in the
 * same batch as one row): every mix of starts, output, finishes, redeliveries, provisional records
 * and months ends exactly as the events stored one at a time would.
 */
@MicronautTest(environments = "test", transactional = false)
class RunBatchIngestionTest extends ControlPlaneTest {
    private static final Instant FIRE = Instant.parse("2026-06-03T08:00:00Z");

    @Inject
    RunIngestion ingestion;

    @Inject
    RunService runs;

    @Inject
    TransactionOperations<Connection> transactions;

    @Override
    protected Map<String, String> extraProperties() {
        // The runs left RUNNING here belong to agents ZooKeeper never saw: keep them RUNNING.
        return Map.of("cloudtask.runs.lost-grace", "1h");
    }

    private static RunEvents newFire(Instant fireTime) {
        return new RunEvents(UUID.randomUUID().toString(), fireTime);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aRunStartedAndFinishedInOneBatchWithRedeliveriesIsStoredOnceInItsFinalState() {
        RunEvents fire = newFire(FIRE);
        // The agent resent the start and the first chunk and finish before the batch was acked.
        List<AgentMessage> batch = List.of(fire.started(), fire.chunk(0, bytes("hello ")), fire.started(),
                fire.chunk(1, bytes("world\n")), fire.finished(RunStatus.RUN_STATUS_SUCCEEDED),
                fire.chunk(0, bytes("hello ")), fire.finished(RunStatus.RUN_STATUS_SUCCEEDED));
        ingestion.ingest("agent-batch", "default", batch);

        RunView run = runs.get(UUID.fromString(fire.runId()));
        assertThat(run.status()).isEqualTo("SUCCEEDED");
        assertThat(run.agentId()).isEqualTo("agent-batch");
        assertThat(run.startedAt()).isEqualTo(FIRE.plusMillis(1));
        assertThat(run.finishedAt()).isEqualTo(FIRE.plusMillis(50));
        assertThat(run.exitCode()).isZero();
        assertThat(runs.output(UUID.fromString(fire.runId()), null)).isEqualTo(bytes("hello world\n"));
        assertThat(rows(fire.runId())).containsExactly("runs_2026_06 SUCCEEDED stored=12 provisional=false");

        // A replay of the whole batch after a reconnect changes nothing.
        ingestion.ingest("agent-batch", "default", batch);
        assertThat(rows(fire.runId())).containsExactly("runs_2026_06 SUCCEEDED stored=12 provisional=false");
        assertThat(runs.output(UUID.fromString(fire.runId()), null)).isEqualTo(bytes("hello world\n"));
    }

    @Test
    void aRunStartedInAnEarlierBatchIsFinishedAndItsOutputCounted() {
        RunEvents fire = newFire(FIRE.plusSeconds(1));
        RunEvents next = newFire(FIRE.plusSeconds(2));
        ingestion.ingest("agent-batch", "default", List.of(fire.started()));
        ingestion.ingest("agent-batch", "default", List.of(fire.chunk(0, bytes("out\n")),
                fire.finished(RunStatus.RUN_STATUS_FAILED), next.started(), next.chunk(0, bytes("x"))));

        assertThat(rows(fire.runId())).containsExactly("runs_2026_06 FAILED stored=4 provisional=false");
        assertThat(runs.get(UUID.fromString(fire.runId())).exitCode()).isEqualTo(1);
        assertThat(rows(next.runId())).containsExactly("runs_2026_06 RUNNING stored=1 provisional=false");
    }

    @Test
    void aBatchSpanningTwoMonthsStoresEachRunInItsMonthsPartition() {
        // Months far ahead: neither has a partition yet, so the batch creates both first.
        RunEvents january = newFire(Instant.parse("2043-01-31T23:59:59.999Z"));
        RunEvents february = newFire(Instant.parse("2043-02-01T00:00:00Z"));
        RunEvents lateStart = newFire(Instant.parse("2043-02-01T00:00:01Z"));
        List<AgentMessage> batch = List.of(january.started(), february.started(), january.chunk(0, bytes("j")),
                february.chunk(0, bytes("f")), january.finished(RunStatus.RUN_STATUS_SUCCEEDED),
                february.finished(RunStatus.RUN_STATUS_KILLED), lateStart.finished(RunStatus.RUN_STATUS_TIMED_OUT));
        ingestion.ingest("agent-months", "default", batch);
        ingestion.ingest("agent-months", "default", batch);

        assertThat(rows(january.runId())).containsExactly("runs_2043_01 SUCCEEDED stored=1 provisional=false");
        assertThat(rows(february.runId())).containsExactly("runs_2043_02 KILLED stored=1 provisional=false");
        assertThat(rows(lateStart.runId())).containsExactly("runs_2043_02 TIMED_OUT stored=0 provisional=false");

        // Runs of both months started in one batch and finished in the next.
        RunEvents longJanuary = newFire(Instant.parse("2043-01-31T23:00:00Z"));
        RunEvents longFebruary = newFire(Instant.parse("2043-02-01T01:00:00Z"));
        ingestion.ingest("agent-months", "default", List.of(longJanuary.started(), longFebruary.started()));
        ingestion.ingest("agent-months", "default", List.of(longFebruary.chunk(0, bytes("ab")),
                longFebruary.finished(RunStatus.RUN_STATUS_SUCCEEDED), longJanuary.finished(RunStatus.RUN_STATUS_FAILED)));

        assertThat(rows(longJanuary.runId())).containsExactly("runs_2043_01 FAILED stored=0 provisional=false");
        assertThat(rows(longFebruary.runId())).containsExactly("runs_2043_02 SUCCEEDED stored=2 provisional=false");
    }

    @Test
    void aProvisionalRecordIsSupersededByARunStartedAndFinishedInOneBatch() {
        RunEvents fire = newFire(FIRE.plusSeconds(3));
        AgentMessage missed = fire.finished(RunStatus.RUN_STATUS_MISSED);
        AgentMessage provisional = missed.toBuilder().setRunFinished(missed.getRunFinished().toBuilder()
                .setProvisional(true).setError("not seen by this agent: hand-over")).build();
        ingestion.ingest("new-owner", "default", List.of(provisional));
        assertThat(rows(fire.runId())).containsExactly("runs_2026_06 MISSED stored=0 provisional=true");

        ingestion.ingest("old-owner", "default", List.of(fire.started(), fire.chunk(0, bytes("ran\n")),
                fire.finished(RunStatus.RUN_STATUS_SUCCEEDED), provisional));

        assertThat(rows(fire.runId())).containsExactly("runs_2026_06 SUCCEEDED stored=4 provisional=false");
        RunView run = runs.get(UUID.fromString(fire.runId()));
        assertThat(run.agentId()).isEqualTo("old-owner");
        assertThat(run.error()).isNull();
    }

    @Test
    void differentFinishesOfOneRunApplyInArrivalOrderWhereTheStateMachineAllows() {
        RunEvents stored = newFire(FIRE.plusSeconds(4));
        ingestion.ingest("agent-batch", "default", List.of(stored.started()));
        // SKIP is legal only before a run exists; the FAIL after it finishes the stored run.
        ingestion.ingest("agent-batch", "default", List.of(stored.finished(RunStatus.RUN_STATUS_SKIPPED),
                stored.finished(RunStatus.RUN_STATUS_FAILED), stored.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        assertThat(rows(stored.runId())).containsExactly("runs_2026_06 FAILED stored=0 provisional=false");

        RunEvents fresh = newFire(FIRE.plusSeconds(5));
        ingestion.ingest("agent-batch", "default", List.of(fresh.finished(RunStatus.RUN_STATUS_SKIPPED),
                fresh.started(), fresh.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        // Starts count before finishes, as they always did: RUNNING, then SUCCEEDED; SKIP never applies.
        assertThat(rows(fresh.runId())).containsExactly("runs_2026_06 SUCCEEDED stored=0 provisional=false");
    }

    @Test
    void aRunStoredByAnEarlierVersionIsFinishedNotStoredTwice() {
        // Half a microsecond: the JDBC driver rounds it up, PostgreSQL's text input to even (down).
        RunEvents fire = newFire(Instant.parse("2026-06-03T08:00:06.123456500Z"));
        transactions.executeWrite(status -> {
            // The insert earlier versions made for run_started, with the fire time bound as an object.
            try (PreparedStatement insert = status.getConnection().prepareStatement("INSERT INTO runs (id, task_id,"
                    + " cluster, agent_id, fire_time, attempt, trigger, status, spec_version, started_at, created_at,"
                    + " updated_at) VALUES (?, ?, 'default', 'agent-old', ?, 1, 'SCHEDULE', 'RUNNING', 1, now(), now(),"
                    + " now())")) {
                insert.setObject(1, UUID.fromString(fire.runId()));
                insert.setObject(2, UUID.fromString(fire.taskId()));
                insert.setObject(3, OffsetDateTime.ofInstant(fire.fireTime(), ZoneOffset.UTC));
                insert.executeUpdate();
            }
            return null;
        });

        ingestion.ingest("agent-old", "default", List.of(fire.started(), fire.finished(RunStatus.RUN_STATUS_SUCCEEDED)));

        assertThat(rows(fire.runId())).containsExactly("runs_2026_06 SUCCEEDED stored=0 provisional=false");
    }

    /** Each stored row of the run as "partition STATUS stored=N provisional=B". */
    private List<String> rows(String runId) {
        return transactions.executeRead(status -> {
            List<String> rows = new ArrayList<>();
            try (PreparedStatement select = status.getConnection().prepareStatement("SELECT tableoid::regclass::text,"
                    + " status, output_stored_bytes, provisional FROM runs WHERE id = ?")) {
                select.setObject(1, UUID.fromString(runId));
                try (ResultSet result = select.executeQuery()) {
                    while (result.next()) {
                        rows.add(result.getString(1) + " " + result.getString(2) + " stored=" + result.getLong(3)
                                + " provisional=" + result.getBoolean(4));
                    }
                }
            }
            return rows;
        });
    }
}
