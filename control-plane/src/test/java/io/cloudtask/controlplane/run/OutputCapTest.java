package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunStatus;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class OutputCapTest extends ControlPlaneTest {
    private static final int CAP = 64 * 1024;
    private static final int CHUNK = 1000;

    @Inject
    RunIngestion ingestion;

    @Inject
    RunService runs;

    @Override
    protected Map<String, String> extraProperties() {
        return Map.of("cloudtask.runs.output-cap", Integer.toString(CAP));
    }

    private static byte[] chunkData(int index) {
        byte[] data = new byte[CHUNK];
        Arrays.fill(data, (byte) ('a' + index % 26));
        data[CHUNK - 1] = '\n';
        return data;
    }

    @Test
    void keepsTheHeadAndTheTailOfALargeOutputAndMarksTheCut() {
        RunEvents fire = new RunEvents(UUID.randomUUID().toString(), Instant.parse("2026-06-01T00:00:00Z"));
        int chunks = 1000;
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        ingestion.ingest("agent-cap", "default", List.of(fire.started()));
        List<AgentMessage> batch = new ArrayList<>();
        for (int i = 0; i < chunks; i++) {
            byte[] data = chunkData(i);
            written.writeBytes(data);
            batch.add(fire.chunk(i, data));
            if (batch.size() == 50) {
                ingestion.ingest("agent-cap", "default", batch);
                // An agent that did not see the ack replays the batch: nothing may come back.
                ingestion.ingest("agent-cap", "default", batch);
                batch = new ArrayList<>();
            }
        }
        ingestion.ingest("agent-cap", "default", List.of(fire.finished(RunStatus.RUN_STATUS_SUCCEEDED)));

        UUID runId = UUID.fromString(fire.runId());
        RunView run = runs.get(runId);
        assertThat(run.outputTruncated()).isTrue();
        byte[] stored = runs.output(runId, null);
        byte[] all = written.toByteArray();
        String text = new String(stored, StandardCharsets.UTF_8);
        assertThat(text).contains("[CloudTask: " + run.outputCutBytes() + " bytes of output cut here by the output cap]");
        int markerStart = text.indexOf("\n[CloudTask:");
        int markerEnd = text.indexOf("]\n", markerStart) + 2;
        byte[] head = Arrays.copyOfRange(stored, 0, markerStart);
        byte[] tail = Arrays.copyOfRange(stored, markerEnd, stored.length);
        assertThat(head.length).isGreaterThanOrEqualTo(CAP / 2 - CHUNK).isLessThanOrEqualTo(CAP / 2 + CHUNK);
        assertThat(tail.length).isGreaterThanOrEqualTo(CAP / 2 - CHUNK);
        assertThat(head).isEqualTo(Arrays.copyOfRange(all, 0, head.length));
        assertThat(tail).isEqualTo(Arrays.copyOfRange(all, all.length - tail.length, all.length));
        assertThat((long) head.length + tail.length + run.outputCutBytes()).isEqualTo(all.length);
        assertThat(head.length + tail.length).isLessThanOrEqualTo(CAP + CAP / 8 + CHUNK);
    }

    @Test
    void leavesOutputUnderTheCapIntact() {
        RunEvents fire = new RunEvents(UUID.randomUUID().toString(), Instant.parse("2026-06-01T00:00:01Z"));
        ingestion.ingest("agent-cap", "default", List.of(fire.started(), fire.chunk(0, chunkData(0)),
                fire.chunk(1, new byte[] {(byte) 0xc3, (byte) 0x28, 0, (byte) 0xff}),
                fire.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        UUID runId = UUID.fromString(fire.runId());
        assertThat(runs.get(runId).outputTruncated()).isFalse();
        byte[] expected = new byte[CHUNK + 4];
        System.arraycopy(chunkData(0), 0, expected, 0, CHUNK);
        System.arraycopy(new byte[] {(byte) 0xc3, (byte) 0x28, 0, (byte) 0xff}, 0, expected, CHUNK, 4);
        assertThat(runs.output(runId, null)).isEqualTo(expected);
    }
}
