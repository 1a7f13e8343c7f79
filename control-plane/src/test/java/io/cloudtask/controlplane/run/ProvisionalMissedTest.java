package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunStatus;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Hand-over records: the agent that takes a task over records the gap's fires MISSED
 * provisionally; the previous agent's report of a fire it ran replaces that record, in whichever
 * order the two arrive, and a real MISSED record is never replaced.
 */
@MicronautTest(environments = "test", transactional = false)
class ProvisionalMissedTest extends ControlPlaneTest {
    private static final Instant FIRE = Instant.parse("2026-06-02T08:00:00Z");

    @Inject
    RunIngestion ingestion;

    @Inject
    RunService runs;

    private static AgentMessage provisional(RunEvents fire) {
        AgentMessage missed = fire.finished(RunStatus.RUN_STATUS_MISSED);
        return missed.toBuilder().setRunFinished(missed.getRunFinished().toBuilder().setProvisional(true)
                .setError("not seen by this agent: hand-over")).build();
    }

    private RunView run(RunEvents fire) {
        return runs.summary(UUID.fromString(fire.runId()));
    }

    @Test
    void theReportOfTheAgentThatRanTheFireReplacesAProvisionalRecord() {
        RunEvents fire = new RunEvents(UUID.randomUUID().toString(), FIRE);
        ingestion.ingest("new-owner", "default", List.of(provisional(fire)));
        assertThat(run(fire).status()).isEqualTo("MISSED");

        ingestion.ingest("old-owner", "default", List.of(fire.started()));
        assertThat(run(fire).status()).isEqualTo("RUNNING");
        assertThat(run(fire).agentId()).isEqualTo("old-owner");
        ingestion.ingest("old-owner", "default", List.of(fire.finished(RunStatus.RUN_STATUS_SUCCEEDED)));

        assertThat(run(fire).status()).isEqualTo("SUCCEEDED");
        // A replay of the provisional record changes nothing now.
        ingestion.ingest("new-owner", "default", List.of(provisional(fire)));
        assertThat(run(fire).status()).isEqualTo("SUCCEEDED");
    }

    @Test
    void aLoneFinishAlsoReplacesItAndAProvisionalRecordNeverHidesARun() {
        RunEvents replaced = new RunEvents(UUID.randomUUID().toString(), FIRE);
        ingestion.ingest("new-owner", "default", List.of(provisional(replaced)));
        ingestion.ingest("old-owner", "default", List.of(replaced.finished(RunStatus.RUN_STATUS_FAILED)));
        assertThat(run(replaced).status()).isEqualTo("FAILED");
        assertThat(run(replaced).agentId()).isEqualTo("old-owner");

        RunEvents ranFirst = new RunEvents(UUID.randomUUID().toString(), FIRE);
        ingestion.ingest("old-owner", "default", List.of(ranFirst.started()));
        ingestion.ingest("new-owner", "default", List.of(provisional(ranFirst)));
        assertThat(run(ranFirst).status()).isEqualTo("RUNNING");
    }

    @Test
    void aRealMissedRecordIsNotReplaced() {
        RunEvents fire = new RunEvents(UUID.randomUUID().toString(), FIRE);
        ingestion.ingest("owner", "default", List.of(fire.finished(RunStatus.RUN_STATUS_MISSED)));

        ingestion.ingest("other", "default", List.of(fire.started()));

        assertThat(run(fire).status()).isEqualTo("MISSED");
        assertThat(run(fire).agentId()).isEqualTo("owner");
    }
}
