package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Manual control end to end, every component a separate process: run now (with argument and
 * environment overrides) and kill asked of one control-plane replica while the agent's stream is
 * held by the other, and edits reaching the agent without killing the run in flight.
 */
class ManualControlIT {
    private static final Logger log = LoggerFactory.getLogger(ManualControlIT.class);
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path workDir;

    @Test
    void runNowAndKillThroughAnotherReplicaAndEditsReachTheAgent() throws Exception {
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            // Started before the second replica, the agent knows only the first: its stream is there.
            ManagedProcess agent = system.startAgent("manual-agent");
            Api first = system.api();
            await("agent connected").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(250))
                    .until(() -> {
                    Api.Answer answer = first.getAnswer("/api/v1/agents/manual-agent");
                    return answer.status() == 200 && answer.body().get("connectedReplica") != null
                            && !answer.body().get("connectedReplica").isNull();
                });
            Api second = system.startExtraReplica("replica-b").api();

            runNowWithOverrides(second, agent);
            killRemovesTheWholeTree(second);
            editsReachTheAgentWithoutKillingTheRunInFlight(first);
        }
    }

    private void runNowWithOverrides(Api api, ManagedProcess agent) {
        String taskId = api.createTask("""
                {"name": "manual-overrides", "command": "printf '[%s]' \\"$GREETING\\"; printf '<%s>'",
                 "schedules": [], "paused": true}""").get("id").asText();

        JsonNode command = runNow(api, taskId, """
                {"arguments": ["a b", "it's", "$HOME"], "environment": {"GREETING": "hi"}}""");

        assertThat(command.get("state").asText()).as(command.toString()).isEqualTo("ACCEPTED");
        String runId = command.get("runId").asText();
        JsonNode run = await("manual run finished").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(200))
                .until(() -> runIfFinished(api, runId), r -> r != null);
        assertThat(run.get("status").asText()).as(run.toString()).isEqualTo("SUCCEEDED");
        assertThat(run.get("trigger").asText()).isEqualTo("MANUAL");
        assertThat(run.get("commandId").asText()).isEqualTo(command.get("id").asText());
        assertThat(run.get("output").asText()).isEqualTo("[hi]<a b><it's><$HOME>");
        assertThat(agent.isAlive()).isTrue();
    }

    private void killRemovesTheWholeTree(Api api) throws Exception {
        String taskId = api.createTask("""
                {"name": "manual-kill", "command": "sleep 300 & echo $! > child.pid; sleep 301; wait",
                 "schedules": [], "killGraceSeconds": 2, "retry": {"maxAttempts": 3, "initialDelaySeconds": 1}}""")
                .get("id").asText();
        String runId = runNow(api, taskId, "").get("runId").asText();
        Path childPidFile = workDir.resolve("agent-manual-agent").resolve("tasks").resolve(taskId).resolve("child.pid");
        long childPid = await("child started").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(100))
                .until(() -> readPid(childPidFile), pid -> pid > 0);
        // 404 until the agent's run_started is stored.
        JsonNode kill = await("kill accepted").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(200)).until(() -> {
            Api.Answer answer = api.post("/api/v1/runs/" + runId + "/kill?wait=10", "{\"reason\": \"integration test\"}");
            return answer.status() == 202 ? answer.body() : null;
        }, body -> body != null);
        assertThat(kill.get("state").asText()).as(kill.toString()).isEqualTo("ACCEPTED");

        JsonNode run = await("killed run finished").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(200))
                .until(() -> runIfFinished(api, runId), r -> r != null);
        assertThat(run.get("status").asText()).isEqualTo("KILLED");
        assertThat(run.get("error").asText()).isEqualTo("killed on request: integration test");
        await("the grandchild is gone too").atMost(scaled(Duration.ofSeconds(10))).pollInterval(Duration.ofMillis(100))
                .until(() -> !isRunning(childPid));
        // A killed run is never retried, whatever maxAttempts says.
        await().during(Duration.ofSeconds(3)).atMost(scaled(Duration.ofSeconds(10))).pollInterval(Duration.ofMillis(500))
                .until(() -> api.runs(taskId).size() == 1);
    }

    private void editsReachTheAgentWithoutKillingTheRunInFlight(Api api) {
        JsonNode task = api.createTask("""
                {"name": "manual-edit", "command": "echo v1; sleep 3",
                 "schedules": [{"type": "cron", "expression": "* * * * * ?"}],
                 "overlap": {"policy": "PARALLEL", "maxParallel": 10}}""");
        String taskId = task.get("id").asText();
        await("version 1 runs").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(200))
                .until(() -> api.runs(taskId).stream().anyMatch(r -> r.get("status").asText().equals("RUNNING")));

        Instant editedAt = Instant.now();
        api.put("/api/v1/tasks/" + taskId, """
                {"name": "manual-edit", "command": "echo v2; sleep 3",
                 "schedules": [{"type": "cron", "expression": "* * * * * ?"}],
                 "overlap": {"policy": "PARALLEL", "maxParallel": 10}, "version": 1}""");

        AtomicReference<List<JsonNode>> runs = new AtomicReference<>();
        await("version 2 runs, and every version 1 run ended").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    runs.set(api.runs(taskId));
                    return runs.get().stream().anyMatch(r -> r.get("specVersion").asLong() == 2)
                            && runs.get().stream().filter(r -> r.get("specVersion").asLong() == 1)
                                    .allMatch(r -> !r.get("status").asText().equals("RUNNING"));
                });
        List<JsonNode> version1 = runs.get().stream().filter(r -> r.get("specVersion").asLong() == 1).toList();
        assertThat(version1).as("an edit does not kill the runs in flight")
                .allSatisfy(r -> assertThat(r.get("status").asText()).isEqualTo("SUCCEEDED"));
        Instant lastOld = version1.stream().map(r -> Instant.parse(r.get("fireTime").asText())).max(Instant::compareTo)
                .orElseThrow();
        Instant firstNew = runs.get().stream().filter(r -> r.get("specVersion").asLong() == 2)
                .map(r -> Instant.parse(r.get("fireTime").asText())).min(Instant::compareTo).orElseThrow();
        long lastOldMs = Duration.between(editedAt, lastOld).toMillis();
        long firstNewMs = Duration.between(editedAt, firstNew).toMillis();
        // The edit reached the agent after the last fire that used version 1 and before the first
        // that used version 2: the propagation time lies between the two.
        log.info("edit propagation: last version-1 fire {} ms after the edit, first version-2 fire {} ms after it",
                lastOldMs, firstNewMs);
        assertThat(lastOldMs).as("the agent had the edit within the bound").isLessThan(scaled(Duration.ofSeconds(5)).toMillis());
    }

    /** Posts a run-now, retrying while the allocation has not given the task to the agent yet (409). */
    private static JsonNode runNow(Api api, String taskId, String body) {
        return await("run now accepted").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(250)).until(() -> {
            Api.Answer answer = api.post("/api/v1/tasks/" + taskId + "/runs?wait=10", body);
            if (answer.status() == 409) {
                return null;
            }
            assertThat(answer.status()).as(String.valueOf(answer.body())).isEqualTo(202);
            return answer.body();
        }, command -> command != null);
    }

    private static JsonNode runIfFinished(Api api, String runId) {
        Api.Answer answer = api.getAnswer("/api/v1/runs/" + runId);
        return answer.status() == 200 && answer.body().get("finishedAt") != null
                && !answer.body().get("finishedAt").isNull() && answer.body().get("outputComplete").asBoolean()
                ? answer.body() : null;
    }

    private static long readPid(Path file) throws IOException {
        try {
            String text = Files.readString(file).strip();
            return text.isEmpty() ? 0 : Long.parseLong(text);
        } catch (NoSuchFileException e) {
            return 0;
        }
    }

    /** Alive and not a zombie (a killed orphan may wait to be reaped by a PID 1 that never does). */
    private static boolean isRunning(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }
}
