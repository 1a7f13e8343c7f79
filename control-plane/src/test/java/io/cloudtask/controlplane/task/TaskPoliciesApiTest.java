package io.cloudtask.controlplane.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.TaskSpec;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class TaskPoliciesApiTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

    @Inject
    TaskService tasks;

    RestClient rest;

    @BeforeEach
    void client() {
        rest = new RestClient(server.getURI());
    }

    private static String task(String name, String policies) {
        return """
                {"name": "%s", "command": "sleep 1", "schedules": [{"type": "cron", "expression": "*/5 * * * * ?"}]%s}"""
                .formatted(name, policies.isEmpty() ? "" : ", " + policies);
    }

    private String fieldOf(String name, String policies) {
        RestClient.Response response = rest.post("/api/v1/tasks", task(name, policies));
        assertThat(response.status()).isEqualTo(400);
        return response.json().get("field").asText();
    }

    @Test
    void showsTheDefaultPoliciesOfATaskThatGivesNone() {
        JsonNode body = rest.post("/api/v1/tasks", task("policy-defaults", "")).json();
        assertThat(body.get("overlap").toString()).isEqualTo("{\"policy\":\"SKIP\"}");
        assertThat(body.get("misfire").toString()).isEqualTo("{\"policy\":\"RUN_ONCE\"}");
        assertThat(body.get("retry").toString())
                .isEqualTo("{\"maxAttempts\":1,\"initialDelaySeconds\":10,\"maxDelaySeconds\":300}");
        assertThat(body.get("killGraceSeconds").asLong()).isEqualTo(5);
    }

    @Test
    void storesPoliciesAndSendsThemToAgentsInTheSpec() {
        JsonNode body = rest.post("/api/v1/tasks", task("policy-queue", """
                "overlap": {"policy": "queue", "maxQueued": 3}, "misfire": {"policy": "RUN_ALL"},
                "retry": {"maxAttempts": 4, "initialDelaySeconds": 2, "maxDelaySeconds": 30}, "killGraceSeconds": 1""")).json();
        assertThat(body.get("overlap").toString()).isEqualTo("{\"policy\":\"QUEUE\",\"maxQueued\":3}");
        assertThat(body.get("misfire").toString()).isEqualTo("{\"policy\":\"RUN_ALL\",\"maxCatchUp\":10}");
        String id = body.get("id").asText();
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("retry").get("maxAttempts").asInt()).isEqualTo(4);

        TaskSpec spec = tasks.specs(List.of(id)).specs().get(0);
        assertThat(spec.getOverlapPolicy()).isEqualTo(TaskSpec.OverlapPolicy.OVERLAP_POLICY_QUEUE);
        assertThat(spec.getMaxQueued()).isEqualTo(3);
        assertThat(spec.getMisfirePolicy()).isEqualTo(TaskSpec.MisfirePolicy.MISFIRE_POLICY_RUN_ALL);
        assertThat(spec.getMaxCatchUp()).isEqualTo(10);
        assertThat(spec.getMaxAttempts()).isEqualTo(4);
        assertThat(spec.getRetryInitialDelay().getSeconds()).isEqualTo(2);
        assertThat(spec.getRetryMaxDelay().getSeconds()).isEqualTo(30);
        assertThat(spec.getKillGrace().getSeconds()).isEqualTo(1);
        assertThat(spec.getVersionCreatedAt().getSeconds()).isPositive();
    }

    @Test
    void rejectsBadPolicyFieldsNamingTheField() {
        assertThat(fieldOf("p1", "\"overlap\": {\"policy\": \"SOMETIMES\"}")).isEqualTo("overlap.policy");
        assertThat(fieldOf("p2", "\"overlap\": {\"policy\": \"QUEUE\", \"maxQueued\": 0}")).isEqualTo("overlap.maxQueued");
        assertThat(fieldOf("p3", "\"overlap\": {\"policy\": \"SKIP\", \"maxParallel\": 3}")).isEqualTo("overlap.maxParallel");
        assertThat(fieldOf("p4", "\"overlap\": {\"policy\": \"PARALLEL\", \"maxParallel\": 101}")).isEqualTo("overlap.maxParallel");
        assertThat(fieldOf("p5", "\"misfire\": {\"policy\": \"NEVER\"}")).isEqualTo("misfire.policy");
        assertThat(fieldOf("p6", "\"misfire\": {\"policy\": \"RUN_ONCE\", \"maxCatchUp\": 5}")).isEqualTo("misfire.maxCatchUp");
        assertThat(fieldOf("p7", "\"retry\": {\"maxAttempts\": 0}")).isEqualTo("retry.maxAttempts");
        assertThat(fieldOf("p8", "\"retry\": {\"initialDelaySeconds\": 0}")).isEqualTo("retry.initialDelaySeconds");
        assertThat(fieldOf("p9", "\"retry\": {\"initialDelaySeconds\": 60, \"maxDelaySeconds\": 30}")).isEqualTo("retry.maxDelaySeconds");
        assertThat(fieldOf("p10", "\"killGraceSeconds\": -1")).isEqualTo("killGraceSeconds");
    }

    @Test
    void aRejectedPolicyMessageSaysWhatIsAllowed() {
        RestClient.Response response = rest.post("/api/v1/tasks", task("p-msg", "\"retry\": {\"maxAttempts\": 0}"));
        assertThat(response.json().get("message").asText()).contains("1 (no retry) to 100");
        RestClient.Response policy = rest.post("/api/v1/tasks", task("p-msg2", "\"overlap\": {\"policy\": \"later\"}"));
        assertThat(policy.json().get("message").asText()).contains("SKIP, QUEUE, PARALLEL, REPLACE");
    }

    @Test
    void aReplaceKeepsPoliciesOnlyIfTheyAreSentAgain() {
        String id = rest.post("/api/v1/tasks", task("p-put", "\"overlap\": {\"policy\": \"PARALLEL\"}")).json().get("id").asText();
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("overlap").get("maxParallel").asInt()).isEqualTo(2);

        JsonNode replaced = rest.put("/api/v1/tasks/" + id, task("p-put", "")).json();

        assertThat(replaced.get("overlap").get("policy").asText()).isEqualTo("SKIP");
        assertThat(replaced.get("version").asLong()).isEqualTo(2);
    }
}
