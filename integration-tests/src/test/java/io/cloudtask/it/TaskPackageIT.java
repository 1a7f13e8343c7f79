package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Task packages end to end, every component a separate process: an uploaded zip is fetched by the
 * agent over FetchPackage, unpacked, and its script runs in the package directory; a new upload
 * and a revert change what runs.
 */
class TaskPackageIT {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path workDir;

    @Test
    void aTaskRunsTheScriptOfItsCurrentPackageVersion() throws Exception {
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            system.startAgent("package-agent");
            Api api = system.api();
            String taskId = api.createTask("""
                    {"name": "packaged", "command": "sh bin/job.sh", "schedules": []}""").get("id").asText();

            Api.Answer first = api.upload("/api/v1/tasks/" + taskId + "/package", "job-1.zip", zip("one"));
            assertThat(first.status()).as(String.valueOf(first.body())).isEqualTo(201);
            assertThat(runOutput(api, taskId)).isEqualTo("job one in packages\ndata: one\n");

            assertThat(api.upload("/api/v1/tasks/" + taskId + "/package", "job-2.zip", zip("two")).status()).isEqualTo(201);
            await("the new version runs").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(500))
                    .until(() -> runOutput(api, taskId).contains("data: two"));

            Api.Answer reverted = api.post("/api/v1/tasks/" + taskId + "/packages/1/revert", "");
            assertThat(reverted.status()).as(String.valueOf(reverted.body())).isEqualTo(200);
            await("the reverted version runs").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(500))
                    .until(() -> runOutput(api, taskId).contains("data: one"));
        }
    }

    /** A zip whose script prints the name of its working directory's parent and a data file. */
    private static byte[] zip(String marker) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("bin/job.sh"));
            zip.write(("echo \"job " + marker + " in $(basename \"$(dirname \"$PWD\")\")\"\ncat data/value.txt\n")
                    .getBytes(StandardCharsets.UTF_8));
            zip.closeEntry();
            zip.putNextEntry(new ZipEntry("data/value.txt"));
            zip.write(("data: " + marker + "\n").getBytes(StandardCharsets.UTF_8));
            zip.closeEntry();
        }
        return bytes.toByteArray();
    }

    /** Runs the task now (retrying while the allocation has not reached the agent) and returns its output. */
    private static String runOutput(Api api, String taskId) {
        JsonNode command = await("run now accepted").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(250)).until(() -> {
            Api.Answer answer = api.post("/api/v1/tasks/" + taskId + "/runs?wait=10", "");
            return answer.status() == 202 ? answer.body() : null;
        }, body -> body != null);
        String runId = command.get("runId").asText();
        JsonNode run = await("run finished").atMost(scaled(WAIT)).pollInterval(Duration.ofMillis(200)).until(() -> {
            Api.Answer answer = api.getAnswer("/api/v1/runs/" + runId);
            return answer.status() == 200 && answer.body().get("outputComplete").asBoolean() ? answer.body() : null;
        }, body -> body != null);
        assertThat(run.get("status").asText()).as(run.toString()).isEqualTo("SUCCEEDED");
        return run.get("output").asText();
    }
}
