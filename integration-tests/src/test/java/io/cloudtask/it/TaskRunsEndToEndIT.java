package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Foundation slice end to end, every component a separate process: a task created over REST
 * runs on a Java agent every second, its results and output are stored, and deleting it stops it.
 */
class TaskRunsEndToEndIT {
    private static final Logger log = LoggerFactory.getLogger(TaskRunsEndToEndIT.class);

    @TempDir
    Path workDir;

    @Test
    void aTaskCreatedOverRestRunsOnAnAgentAndStopsWhenDeleted() throws Exception {
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            ManagedProcess agent = system.startAgent("e2e-agent-1");
            Api api = system.api();

            String token = "token-" + UUID.randomUUID();
            JsonNode task = api.createTask("""
                    {"name": "e2e-every-second", "command": "echo %s; echo run=$CLOUDTASK_RUN_ID",
                     "schedules": [{"type": "cron", "expression": "* * * * * ?"}]}""".formatted(token));
            String taskId = task.get("id").asText();

            await("3 successful runs with the token in their output").atMost(scaled(Duration.ofSeconds(60)))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> {
                        if (!agent.isAlive()) {
                            throw new AssertionError("agent exited:\n" + agent.logTail(40));
                        }
                        return successfulRunsWithToken(api, taskId, token) >= 3;
                    });

            api.deleteTask(taskId);
            Instant deletedAt = Instant.now();

            // Runs already started may still report; for 5 s, none may have started more than 2 s
            // after the delete.
            Instant cutoff = deletedAt.plusSeconds(2);
            await("no run starting 2 s after the delete").during(scaled(Duration.ofSeconds(5)))
                    .atMost(scaled(Duration.ofSeconds(20))).pollInterval(Duration.ofMillis(500))
                    .until(() -> lastStart(api.runs(taskId)).isBefore(cutoff));
            List<JsonNode> runs = api.runs(taskId);
            Instant lastStart = lastStart(runs);
            log.info("{} runs in all; last start {} ms after the delete", runs.size(),
                    Duration.between(deletedAt, lastStart).toMillis());
            assertThat(lastStart).isBefore(cutoff);
            assertThat(runs).allSatisfy(run -> assertThat(run.get("agentId").asText()).isEqualTo("e2e-agent-1"));
            assertThat(runs.stream().map(run -> run.get("fireTime").asText()).distinct().count())
                    .as("one run per fire").isEqualTo(runs.size());
        }
    }

    private static Instant lastStart(List<JsonNode> runs) {
        // Fires that never started (MISSED: one may fall between the task's creation and the agent
        // holding it) have no start.
        return runs.stream().filter(run -> !run.get("startedAt").isNull())
                .map(run -> Instant.parse(run.get("startedAt").asText())).max(Instant::compareTo).orElseThrow();
    }

    private static long successfulRunsWithToken(Api api, String taskId, String token) {
        return api.runs(taskId).stream()
                .filter(run -> run.get("status").asText().equals("SUCCEEDED"))
                .map(run -> api.run(run.get("id").asText()))
                .filter(run -> run.get("output").asText().contains(token + "\nrun=" + run.get("id").asText()))
                .filter(run -> run.get("exitCode").asInt() == 0)
                .count();
    }
}
