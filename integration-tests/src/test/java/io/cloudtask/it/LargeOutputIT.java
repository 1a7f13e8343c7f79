package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run that writes 200 MiB through a real agent (heap capped at 128 MiB, so an agent that held
 * output in memory would fail) is stored as the head and tail of the 16 MiB cap with a marker.
 */
class LargeOutputIT {
    private static final Logger log = LoggerFactory.getLogger(LargeOutputIT.class);
    private static final long WRITTEN = 200L * 1024 * 1024;

    @TempDir
    Path workDir;

    @Test
    void aRunWriting200MiBIsCutToTheCapWhileTheAgentStaysWithinItsHeap() throws Exception {
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            ManagedProcess agent = system.startAgent("large-output");
            Api api = system.api();
            // 200 MiB of lines "xxxx…\n" (1 KiB each), then a last line to find in the tail.
            JsonNode task = api.createTask("""
                    {"name": "large-output", "command": "head -c %d /dev/zero | tr '\\\\000' x | fold -w 1023; echo THE-END",
                     "schedules": [{"type": "once", "at": "%s"}]}"""
                    .formatted(WRITTEN, java.time.Instant.now().plusSeconds(3)));
            String taskId = task.get("id").asText();

            await("the 200 MiB run stored").atMost(scaled(Duration.ofSeconds(180))).pollInterval(Duration.ofSeconds(1))
                    .until(() -> {
                        if (!agent.isAlive()) {
                            throw new AssertionError("agent died:\n" + agent.logTail(40));
                        }
                        List<JsonNode> runs = api.runs(taskId);
                        return !runs.isEmpty() && !runs.get(0).get("finishedAt").isNull();
                    });
            JsonNode run = api.runs(taskId).get(0);
            assertThat(run.get("status").asText()).isEqualTo("SUCCEEDED");
            assertThat(run.get("outputBytes").asLong()).isGreaterThan(WRITTEN);
            assertThat(run.get("outputTruncated").asBoolean()).isTrue();
            byte[] stored = api.output(run.get("id").asText());
            String text = new String(stored, StandardCharsets.UTF_8);
            log.info("stored {} bytes of {} written; {} cut; agent RSS {} MiB", stored.length,
                    run.get("outputBytes").asLong(), run.get("outputCutBytes").asLong(), (long) ProcStats.rssMiB(agent.pid()));
            assertThat(stored.length).isLessThan(20 * 1024 * 1024);
            assertThat(text).startsWith("x".repeat(1023) + "\n").endsWith("THE-END\n")
                    .contains("bytes of output cut here by the output cap]");
            assertThat(stored.length + run.get("outputCutBytes").asLong() - markerLength(text))
                    .isEqualTo(run.get("outputBytes").asLong());
            assertThat(agent.isAlive()).as("agent survived with -Xmx128m").isTrue();
        }
    }

    private static long markerLength(String text) {
        int start = text.indexOf("\n[CloudTask:");
        int end = text.indexOf("]\n", start) + 2;
        return text.substring(start, end).getBytes(StandardCharsets.UTF_8).length;
    }
}
