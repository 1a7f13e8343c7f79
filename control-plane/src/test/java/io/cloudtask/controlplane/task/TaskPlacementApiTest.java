package io.cloudtask.controlplane.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.Placement;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.proto.v1.TaskSpec;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class TaskPlacementApiTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

    @Inject
    TaskService tasks;

    RestClient rest;

    @BeforeEach
    void client() {
        rest = new RestClient(server.getURI());
    }

    private static String task(String name, String placement) {
        return """
                {"name": "%s", "command": "true", "schedules": [{"type": "cron", "expression": "*/5 * * * * ?"}]%s}"""
                .formatted(name, placement == null ? "" : ", \"placement\": " + placement);
    }

    private RestClient.Response rejected(String name, String placement) {
        RestClient.Response response = rest.post("/api/v1/tasks", task(name, placement));
        assertThat(response.status()).as(response.body()).isEqualTo(400);
        assertThat(response.json().get("code").asText()).isEqualTo("INVALID_ARGUMENT");
        return response;
    }

    private String fieldOf(String name, String placement) {
        return rejected(name, placement).json().get("field").asText();
    }

    private TaskSpec spec(String id) {
        return tasks.specs(List.of(id)).specs().get(0);
    }

    @Test
    void aTaskWithoutPlacementRunsOnAnyAgent() {
        JsonNode body = rest.post("/api/v1/tasks", task("placement-default", null)).json();
        assertThat(body.get("placement").toString()).isEqualTo("{\"type\":\"any\"}");
        assertThat(spec(body.get("id").asText()).getPlacement().getKind()).isEqualTo(PlacementKind.PLACEMENT_KIND_ANY);
    }

    @Test
    void storesEachPlacementNormalisedAndSendsItToAgentsInTheSpec() {
        JsonNode hosts = rest.post("/api/v1/tasks", task("placement-hosts",
                "{\"type\": \"HOSTS\", \"hosts\": [\"agent-1\", \" web-01.example \", \"agent-1\"]}")).json();
        assertThat(hosts.get("placement").toString())
                .isEqualTo("{\"type\":\"hosts\",\"hosts\":[\"agent-1\",\"web-01.example\"]}");
        assertThat(spec(hosts.get("id").asText()).getPlacement()).isEqualTo(Placement.newBuilder()
                .setKind(PlacementKind.PLACEMENT_KIND_NAMED).addNames("agent-1").addNames("web-01.example").build());

        JsonNode labels = rest.post("/api/v1/tasks", task("placement-labels",
                "{\"type\": \"labels\", \"selector\": \"zone=a, os=windows\"}")).json();
        assertThat(labels.get("placement").toString()).isEqualTo("{\"type\":\"labels\",\"selector\":\"os=windows,zone=a\"}");
        assertThat(spec(labels.get("id").asText()).getPlacement().getLabelSelector()).isEqualTo("os=windows,zone=a");

        JsonNode broadcast = rest.post("/api/v1/tasks", task("placement-broadcast", "{\"type\": \"broadcast\"}")).json();
        assertThat(broadcast.get("placement").toString()).isEqualTo("{\"type\":\"broadcast\",\"selector\":\"\"}");
        assertThat(spec(broadcast.get("id").asText()).getPlacement().getKind())
                .isEqualTo(PlacementKind.PLACEMENT_KIND_BROADCAST);
        assertThat(rest.get("/api/v1/tasks/" + broadcast.get("id").asText()).json().get("placement").toString())
                .isEqualTo("{\"type\":\"broadcast\",\"selector\":\"\"}");
    }

    @Test
    void changingThePlacementIsAnEditAndACloneCopiesIt() {
        JsonNode created = rest.post("/api/v1/tasks", task("placement-edit", null)).json();
        String id = created.get("id").asText();
        JsonNode replaced = rest.put("/api/v1/tasks/" + id, task("placement-edit",
                "{\"type\": \"labels\", \"selector\": \"gpu\"}")).json();
        assertThat(replaced.get("version").asLong()).isEqualTo(created.get("version").asLong() + 1);
        assertThat(spec(id).getPlacement().getLabelSelector()).isEqualTo("gpu");

        JsonNode copy = rest.post("/api/v1/tasks/" + id + "/clone", "{}").json();
        assertThat(copy.get("placement").toString()).isEqualTo("{\"type\":\"labels\",\"selector\":\"gpu\"}");
        assertThat(spec(copy.get("id").asText()).getPlacement().getLabelSelector()).isEqualTo("gpu");
    }

    @Test
    void rejectsEveryBadPlacementNamingTheField() {
        assertThat(fieldOf("bad-1", "{\"type\": \"somewhere\"}")).isEqualTo("placement.type");
        assertThat(fieldOf("bad-2", "{\"type\": \"hosts\"}")).isEqualTo("placement.hosts");
        assertThat(fieldOf("bad-3", "{\"type\": \"hosts\", \"hosts\": []}")).isEqualTo("placement.hosts");
        assertThat(fieldOf("bad-4", "{\"type\": \"hosts\", \"hosts\": [\"a\", \"b\", \"-bad\"]}"))
                .isEqualTo("placement.hosts[2]");
        assertThat(fieldOf("bad-5", "{\"type\": \"hosts\", \"hosts\": [\"a\", null]}")).isEqualTo("placement.hosts[1]");
        assertThat(fieldOf("bad-6", "{\"type\": \"hosts\", \"hosts\": [\"a\"], \"selector\": \"os=linux\"}"))
                .isEqualTo("placement.selector");
        assertThat(fieldOf("bad-7", "{\"type\": \"labels\"}")).isEqualTo("placement.selector");
        assertThat(fieldOf("bad-8", "{\"type\": \"labels\", \"selector\": \"os=\"}")).isEqualTo("placement.selector");
        assertThat(fieldOf("bad-9", "{\"type\": \"labels\", \"selector\": \"os=linux,,zone=a\"}"))
                .isEqualTo("placement.selector");
        assertThat(fieldOf("bad-10", "{\"type\": \"labels\", \"selector\": \"os=linux\", \"hosts\": [\"a\"]}"))
                .isEqualTo("placement.hosts");
        assertThat(fieldOf("bad-11", "{\"type\": \"any\", \"selector\": \"os=linux\"}")).isEqualTo("placement.selector");
        assertThat(fieldOf("bad-12", "{\"type\": \"any\", \"hosts\": [\"a\"]}")).isEqualTo("placement.hosts");
        assertThat(fieldOf("bad-13", "{\"type\": \"broadcast\", \"selector\": \"zone in (a,b)\"}"))
                .isEqualTo("placement.selector");
        assertThat(fieldOf("bad-14", "{\"type\": \"broadcast\", \"hosts\": [\"a\"]}")).isEqualTo("placement.hosts");
        assertThat(rejected("bad-15", "{\"type\": \"labels\", \"selector\": \"os=\"}").json().get("message").asText())
                .contains("requirement 1 'os='").contains("'!os'");
    }

    @Test
    void rejectsPlacementOfTheWrongJsonShapeAsABadRequest() {
        for (String shape : List.of("\"any\"", "[]", "{\"type\": 3, \"hosts\": \"a\"}", "{\"hosts\": {\"a\": 1}}")) {
            RestClient.Response response = rest.post("/api/v1/tasks", task("shape", shape));
            assertThat(response.status()).as(shape + " -> " + response.body()).isEqualTo(400);
        }
    }
}
