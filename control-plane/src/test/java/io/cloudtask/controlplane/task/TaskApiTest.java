package io.cloudtask.controlplane.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class TaskApiTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

    RestClient rest;

    @BeforeEach
    void client() {
        rest = new RestClient(server.getURI());
    }

    private static String task(String name, String command, String cron) {
        return """
                {"name": "%s", "command": "%s", "schedules": [{"type": "cron", "expression": "%s"}],
                 "environment": {"GREETING": "hi"}, "timeZone": "Europe/Berlin"}""".formatted(name, command, cron);
    }

    @Test
    void createsReadsReplacesAndDeletesATask() {
        RestClient.Response created = rest.post("/api/v1/tasks", task("echo-every-2s", "echo hello", "*/2 * * * * ?"));
        assertThat(created.status()).isEqualTo(201);
        JsonNode body = created.json();
        String id = body.get("id").asText();
        assertThat(body.get("version").asLong()).isEqualTo(1);
        assertThat(body.get("cluster").asText()).isEqualTo("default");
        assertThat(body.get("schedules").get(0).get("syntax").asText()).isEqualTo("quartz");
        assertThat(body.get("nextFireTimes")).hasSize(5);
        assertThat(body.get("environment").get("GREETING").asText()).isEqualTo("hi");

        assertThat(rest.get("/api/v1/tasks/" + id).json().get("name").asText()).isEqualTo("echo-every-2s");

        RestClient.Response replaced = rest.put("/api/v1/tasks/" + id,
                "{\"name\": \"echo-renamed\", \"argv\": [\"/bin/echo\", \"x\"], \"version\": 1, \"paused\": true}");
        assertThat(replaced.status()).isEqualTo(200);
        assertThat(replaced.json().get("version").asLong()).isEqualTo(2);
        assertThat(replaced.json().get("argv").get(0).asText()).isEqualTo("/bin/echo");
        assertThat(replaced.json().get("command").isNull()).isTrue();
        assertThat(replaced.json().get("nextFireTimes")).isEmpty();

        RestClient.Response stale = rest.put("/api/v1/tasks/" + id, "{\"name\": \"x\", \"command\": \"true\", \"version\": 1}");
        assertThat(stale.status()).isEqualTo(409);
        assertThat(stale.json().get("field").asText()).isEqualTo("version");
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("name").asText()).isEqualTo("echo-renamed");

        assertThat(rest.delete("/api/v1/tasks/" + id).status()).isEqualTo(204);
        RestClient.Response gone = rest.get("/api/v1/tasks/" + id);
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.json().get("code").asText()).isEqualTo("NOT_FOUND");
        assertThat(rest.delete("/api/v1/tasks/" + id).status()).isEqualTo(404);
    }

    @Test
    void pausesResumesAndClonesATask() {
        String id = rest.post("/api/v1/tasks", task("to-clone", "echo original", "*/5 * * * * ?")).json().get("id").asText();

        JsonNode paused = rest.post("/api/v1/tasks/" + id + "/pause", "").json();
        assertThat(paused.get("paused").asBoolean()).isTrue();
        assertThat(paused.get("version").asLong()).isEqualTo(2);
        assertThat(paused.get("nextFireTimes")).isEmpty();
        assertThat(rest.post("/api/v1/tasks/" + id + "/pause", "").json().get("version").asLong())
                .as("pausing a paused task changes nothing").isEqualTo(2);
        JsonNode resumed = rest.post("/api/v1/tasks/" + id + "/resume", "").json();
        assertThat(resumed.get("paused").asBoolean()).isFalse();
        assertThat(resumed.get("version").asLong()).isEqualTo(3);

        RestClient.Response copy = rest.post("/api/v1/tasks/" + id + "/clone", "");
        assertThat(copy.status()).isEqualTo(201);
        JsonNode cloned = copy.json();
        assertThat(cloned.get("id").asText()).isNotEqualTo(id);
        assertThat(cloned.get("name").asText()).isEqualTo("to-clone (copy)");
        assertThat(cloned.get("command").asText()).isEqualTo("echo original");
        assertThat(cloned.get("schedules")).isEqualTo(resumed.get("schedules"));
        assertThat(cloned.get("environment")).isEqualTo(resumed.get("environment"));
        assertThat(cloned.get("paused").asBoolean()).as("a copy starts paused").isTrue();
        assertThat(cloned.get("version").asLong()).isEqualTo(1);

        RestClient.Response named = rest.post("/api/v1/tasks/" + id + "/clone", "{\"name\": \"to-clone-2\", \"paused\": false}");
        assertThat(named.json().get("paused").asBoolean()).isFalse();
        RestClient.Response again = rest.post("/api/v1/tasks/" + id + "/clone", "{\"name\": \"to-clone-2\"}");
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().get("field").asText()).isEqualTo("name");
        assertThat(rest.post("/api/v1/tasks/" + id + "/clone", "{\"name\": \"  \"}").json().get("field").asText())
                .isEqualTo("name");
        assertThat(rest.post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/pause", "").status()).isEqualTo(404);
    }

    @Test
    void listsTasksPageByPage() {
        for (int i = 0; i < 5; i++) {
            assertThat(rest.post("/api/v1/tasks", task("paged-" + i, "true", "0 0 * * * ?")).status()).isEqualTo(201);
        }
        Set<String> seen = new HashSet<>();
        String token = "";
        int pages = 0;
        do {
            JsonNode page = rest.get("/api/v1/tasks?limit=2&pageToken=" + token).json();
            page.get("tasks").forEach(t -> seen.add(t.get("name").asText()));
            token = page.get("nextPageToken").isNull() ? null : page.get("nextPageToken").asText();
            pages++;
        } while (token != null && pages < 20);
        assertThat(seen).contains("paged-0", "paged-1", "paged-2", "paged-3", "paged-4");
        assertThat(rest.get("/api/v1/tasks?limit=0").json().get("field").asText()).isEqualTo("limit");
        assertThat(rest.get("/api/v1/tasks?pageToken=nonsense").status()).isEqualTo(400);
    }

    @Test
    void rejectsAMalformedCronExpressionNamingTheField() {
        RestClient.Response response = rest.post("/api/v1/tasks", task("bad-cron", "true", "0 61 * * * ?"));
        assertThat(response.status()).isEqualTo(400);
        JsonNode error = response.json();
        assertThat(error.get("code").asText()).isEqualTo("INVALID_ARGUMENT");
        assertThat(error.get("field").asText()).isEqualTo("schedules[0].expression");
        assertThat(error.get("message").asText()).contains("0 61 * * * ?").contains("61");
        assertThat(error.get("retryable").asBoolean()).isFalse();
    }

    @Test
    void rejectsAnEmptyOrOversizedCommand() {
        RestClient.Response empty = rest.post("/api/v1/tasks", "{\"name\": \"empty\", \"command\": \"  \"}");
        assertThat(empty.status()).isEqualTo(400);
        assertThat(empty.json().get("field").asText()).isEqualTo("command");

        RestClient.Response missing = rest.post("/api/v1/tasks", "{\"name\": \"missing\"}");
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.json().get("field").asText()).isEqualTo("command");

        String huge = "echo " + "x".repeat(64 * 1024);
        RestClient.Response oversized = rest.post("/api/v1/tasks", "{\"name\": \"huge\", \"command\": \"" + huge + "\"}");
        assertThat(oversized.status()).isEqualTo(400);
        assertThat(oversized.json().get("field").asText()).isEqualTo("command");
        assertThat(oversized.json().get("message").asText()).contains("64 KiB");
        assertThat(rest.get("/api/v1/tasks?limit=1000").body()).doesNotContain("\"huge\"");
    }

    @Test
    void rejectsAnUnknownClusterListingTheKnownOnes() {
        RestClient.Response response = rest.post("/api/v1/tasks",
                "{\"name\": \"elsewhere\", \"command\": \"true\", \"cluster\": \"mars\"}");
        assertThat(response.status()).isEqualTo(400);
        assertThat(response.json().get("field").asText()).isEqualTo("cluster");
        assertThat(response.json().get("message").asText()).contains("'mars' does not exist").contains("default");
    }

    @Test
    void rejectsMalformedJsonWithAJsonError() {
        RestClient.Response response = rest.post("/api/v1/tasks", "{\"name\": \"broken\", \"command\": ");
        assertThat(response.status()).isEqualTo(400);
        assertThat(response.json().get("code").asText()).isEqualTo("INVALID_ARGUMENT");
        assertThat(response.json().get("message").asText()).isNotBlank();

        RestClient.Response wrongType = rest.post("/api/v1/tasks",
                "{\"name\": \"typed\", \"command\": \"true\", \"timeoutSeconds\": \"soon\"}");
        assertThat(wrongType.status()).isEqualTo(400);
        assertThat(wrongType.json().get("code").asText()).isEqualTo("INVALID_ARGUMENT");
    }

    @Test
    void rejectsOtherBadFieldsByName() {
        assertThat(rest.post("/api/v1/tasks", "{\"name\": \"tz\", \"command\": \"true\", \"timeZone\": \"Mars/Base\"}")
                .json().get("field").asText()).isEqualTo("timeZone");
        assertThat(rest.post("/api/v1/tasks", "{\"name\": \"env\", \"command\": \"true\", \"environment\": {\"1BAD\": \"x\"}}")
                .json().get("field").asText()).isEqualTo("environment.1BAD");
        assertThat(rest.post("/api/v1/tasks", "{\"name\": \"t\", \"command\": \"true\", \"timeoutSeconds\": -1}")
                .json().get("field").asText()).isEqualTo("timeoutSeconds");
        assertThat(rest.post("/api/v1/tasks", "{\"command\": \"true\"}").json().get("field").asText()).isEqualTo("name");
        assertThat(rest.post("/api/v1/tasks", "{\"name\": \"both\", \"command\": \"true\", \"argv\": [\"true\"]}")
                .json().get("field").asText()).isEqualTo("command");
        assertThat(rest.post("/api/v1/tasks", "{\"name\": \"k\", \"command\": \"true\", \"schedules\": [{\"type\": \"lunar\"}]}")
                .json().get("field").asText()).isEqualTo("schedules[0].type");
        assertThat(rest.get("/api/v1/tasks/not-a-uuid").status()).isEqualTo(400);
    }

    @Test
    void refusesADuplicateNameInTheSameCluster() {
        assertThat(rest.post("/api/v1/tasks", task("unique-name", "true", "0 0 * * * ?")).status()).isEqualTo(201);
        RestClient.Response duplicate = rest.post("/api/v1/tasks", task("unique-name", "true", "0 0 * * * ?"));
        assertThat(duplicate.status()).isEqualTo(409);
        assertThat(duplicate.json().get("field").asText()).isEqualTo("name");
    }
}
