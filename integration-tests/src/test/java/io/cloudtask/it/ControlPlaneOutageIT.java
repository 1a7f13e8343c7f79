package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Nothing finished is lost: the control plane is killed (-9) while runs stream output and is
 * started again; every run that started is stored exactly once with exactly the bytes it wrote.
 */
class ControlPlaneOutageIT {
    private static final Logger log = LoggerFactory.getLogger(ControlPlaneOutageIT.class);
    private static final int TASKS = 5;
    private static final int LINES = 60;
    /** Runs that start, stream their output and finish while the control plane is down. */
    private static final int RUNS_DURING_OUTAGE = 50;

    @TempDir
    Path workDir;

    @Test
    void runsThatStreamedWhileTheControlPlaneWasDownAreStoredExactlyOnce() throws Exception {
        Path started = Files.createDirectories(workDir.resolve("started"));
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            system.startAgent("outage-agent");
            Api api = system.api();
            // Each run records that it started, then writes LINES lines over about 1.5 s; runs of
            // one task overlap, so the tasks allow parallel runs (the default policy skips).
            String command = "touch " + started + "/$CLOUDTASK_RUN_ID; i=1; while [ $i -le " + LINES
                    + " ]; do echo \"$CLOUDTASK_RUN_ID line $i\"; i=$((i+1)); sleep 0.025; done";
            List<JsonNode> tasks = new ArrayList<>();
            for (int i = 0; i < TASKS; i++) {
                tasks.add(api.createTask("""
                        {"name": "outage-%d", "command": "%s", "schedules": [{"expression": "* * * * * ?"}],
                         "overlap": {"policy": "PARALLEL", "maxParallel": 3}}"""
                        .formatted(i, command.replace("\"", "\\\""))));
            }
            await("runs streaming").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> startedRuns(started).size() >= 10);

            system.controlPlane().kill();
            int startedBeforeOutage = startedRuns(started).size();
            await("agent firing with the control plane down").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> startedRuns(started).size() >= startedBeforeOutage + RUNS_DURING_OUTAGE);
            log.info("{} runs started before the kill, {} by the restart", startedBeforeOutage, startedRuns(started).size());

            system.startControlPlane();
            for (JsonNode task : tasks) {
                api.pauseTask(task);
            }
            // Pausing reaches the agent through a new assignment; after that the set is final.
            await("firing stopped").atMost(scaled(Duration.ofSeconds(60))).pollInterval(Duration.ofSeconds(1))
                    .until(() -> {
                        int before = startedRuns(started).size();
                        return allStored(api, tasks, startedRuns(started)) && startedRuns(started).size() == before;
                    });

            Set<String> runIds = startedRuns(started);
            List<JsonNode> stored = new ArrayList<>();
            for (JsonNode task : tasks) {
                stored.addAll(api.runs(task.get("id").asText()));
            }
            assertThat(stored).extracting(run -> run.get("id").asText()).doesNotHaveDuplicates()
                    .containsExactlyInAnyOrderElementsOf(runIds);
            for (JsonNode run : stored) {
                String runId = run.get("id").asText();
                assertThat(run.get("status").asText()).as("status of %s", runId).isEqualTo("SUCCEEDED");
                assertThat(api.output(runId)).as("output of %s", runId).isEqualTo(expectedOutput(runId));
            }
            log.info("{} runs stored exactly once with complete output", stored.size());
        }
    }

    private static boolean allStored(Api api, List<JsonNode> tasks, Set<String> runIds) {
        Set<String> finished = tasks.stream()
                .flatMap(task -> api.runs(task.get("id").asText()).stream())
                .filter(run -> !run.get("finishedAt").isNull())
                .map(run -> run.get("id").asText())
                .collect(Collectors.toSet());
        return finished.containsAll(runIds);
    }

    private static byte[] expectedOutput(String runId) {
        StringBuilder expected = new StringBuilder();
        for (int i = 1; i <= LINES; i++) {
            expected.append(runId).append(" line ").append(i).append('\n');
        }
        return expected.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Set<String> startedRuns(Path started) {
        try (Stream<Path> files = Files.list(started)) {
            return files.map(file -> file.getFileName().toString()).collect(Collectors.toSet());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
