package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Placement;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Tasks placed on an agent group: validated against the cluster's groups, allocated to its members only. */
@MicronautTest(environments = "test", transactional = false)
class GroupPlacementTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    @Inject
    EmbeddedServer server;

    @Inject
    TaskService tasks;

    RestClient rest;
    CuratorFramework agentSide;

    @BeforeEach
    void connect() {
        rest = new RestClient(server.getURI());
        agentSide = CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), 4000, 4000, new RetryOneTime(100));
        agentSide.start();
    }

    @AfterEach
    void disconnect() {
        agentSide.close();
    }

    private void openClusterWithWebGroup(String cluster) {
        assertThat(rest.post("/api/v1/clusters", "{\"name\": \"" + cluster + "\", \"requireJoinToken\": false}")
                .status()).isEqualTo(201);
        assertThat(rest.post("/api/v1/clusters/" + cluster + "/groups", "{\"name\": \"web\", \"selector\": \"role=web\"}")
                .status()).isEqualTo(201);
    }

    private void register(String cluster, String agentId, String role) throws Exception {
        agentSide.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(ZkLayout.agent(cluster, agentId), ZkLayout.encode(AgentInfo.newBuilder().setAgentId(agentId)
                        .setCluster(cluster).setHostname(agentId + ".example").setOs("linux").setCapacity(1)
                        .putAllLabels(Map.of("role", role)).build()));
    }

    private static String task(String name, String cluster, String placement) {
        return """
                {"name": "%s", "cluster": "%s", "command": "true", "schedules": [], "placement": %s}"""
                .formatted(name, cluster, placement);
    }

    private List<String> createTasks(String cluster, String prefix, int count, String placement) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            RestClient.Response created = rest.post("/api/v1/tasks", task(prefix + i, cluster, placement));
            assertThat(created.status()).as(created.body()).isEqualTo(201);
            ids.add(created.json().get("id").asText());
        }
        return ids;
    }

    private Set<String> assigned(String cluster, String agentId) throws Exception {
        String path = ZkLayout.allocation(cluster, agentId);
        if (agentSide.checkExists().forPath(path) == null) {
            return Set.of();
        }
        Set<String> ids = new HashSet<>();
        ZkLayout.decodeAssignment(agentSide.getData().forPath(path)).getTasksList().stream()
                .map(AssignedTask::getTaskId).forEach(ids::add);
        return ids;
    }

    private String rejectedField(String cluster, String placement) {
        RestClient.Response response = rest.post("/api/v1/tasks", task("rejected", cluster, placement));
        assertThat(response.status()).as(response.body()).isEqualTo(400);
        return response.json().get("field").asText();
    }

    @Test
    void storesAGroupPlacementByNameAndSendsAgentsTheKindAndGroupWithoutASelector() {
        openClusterWithWebGroup("stored");
        JsonNode one = rest.post("/api/v1/tasks", task("one", "stored", "{\"type\": \"GROUP\", \"group\": \"web\"}"))
                .json();
        assertThat(one.get("placement").toString()).isEqualTo("{\"type\":\"group\",\"group\":\"web\"}");
        assertThat(tasks.specs(List.of(one.get("id").asText())).specs().get(0).getPlacement()).isEqualTo(
                Placement.newBuilder().setKind(PlacementKind.PLACEMENT_KIND_LABEL_SELECTOR).setGroup("web").build());
        JsonNode all = rest.post("/api/v1/tasks", task("all", "stored", "{\"type\": \"broadcast\", \"group\": \"web\"}"))
                .json();
        assertThat(all.get("placement").toString()).isEqualTo("{\"type\":\"broadcast\",\"group\":\"web\"}");
        assertThat(tasks.specs(List.of(all.get("id").asText())).specs().get(0).getPlacement()).isEqualTo(
                Placement.newBuilder().setKind(PlacementKind.PLACEMENT_KIND_BROADCAST).setGroup("web").build());
        JsonNode copy = rest.post("/api/v1/tasks/" + all.get("id").asText() + "/clone", "{}").json();
        assertThat(copy.get("placement").toString()).isEqualTo("{\"type\":\"broadcast\",\"group\":\"web\"}");
    }

    @Test
    void rejectsAGroupPlacementThatIsMalformedOrNamesNoGroupOfTheTasksCluster() {
        openClusterWithWebGroup("checked");
        openClusterWithWebGroup("elsewhere");
        assertThat(rest.post("/api/v1/clusters/elsewhere/groups", "{\"name\": \"db\", \"selector\": \"role=db\"}")
                .status()).isEqualTo(201);
        assertThat(rejectedField("checked", "{\"type\": \"group\"}")).isEqualTo("placement.group");
        assertThat(rejectedField("checked", "{\"type\": \"group\", \"group\": \" \"}")).isEqualTo("placement.group");
        assertThat(rejectedField("checked", "{\"type\": \"group\", \"group\": \"-web\"}")).isEqualTo("placement.group");
        assertThat(rejectedField("checked", "{\"type\": \"group\", \"group\": \"web\", \"selector\": \"a\"}"))
                .isEqualTo("placement.selector");
        assertThat(rejectedField("checked", "{\"type\": \"group\", \"group\": \"web\", \"hosts\": [\"a\"]}"))
                .isEqualTo("placement.hosts");
        assertThat(rejectedField("checked", "{\"type\": \"broadcast\", \"group\": \"web\", \"selector\": \"a\"}"))
                .isEqualTo("placement.group");
        assertThat(rejectedField("checked", "{\"type\": \"labels\", \"selector\": \"a\", \"group\": \"web\"}"))
                .isEqualTo("placement.group");
        assertThat(rejectedField("checked", "{\"type\": \"any\", \"group\": \"web\"}")).isEqualTo("placement.group");
        RestClient.Response missing = rest.post("/api/v1/tasks", task("missing", "checked",
                "{\"type\": \"group\", \"group\": \"db\"}"));
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.json().get("field").asText()).isEqualTo("placement.group");
        assertThat(missing.json().get("message").asText()).contains("group 'db' does not exist in cluster 'checked'")
                .contains("one of: web");
        assertThat(rejectedField("checked", "{\"type\": \"broadcast\", \"group\": \"db\"}")).isEqualTo("placement.group");

        // Moving a task to another cluster checks its group there.
        String id = createTasks("elsewhere", "mover", 1, "{\"type\": \"group\", \"group\": \"db\"}").get(0);
        RestClient.Response moved = rest.put("/api/v1/tasks/" + id, task("mover", "checked",
                "{\"type\": \"group\", \"group\": \"db\"}"));
        assertThat(moved.status()).isEqualTo(400);
        assertThat(moved.json().get("field").asText()).isEqualTo("placement.group");
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("cluster").asText()).isEqualTo("elsewhere");
    }

    @Test
    void allocatesOnlyToTheGroupsMembersAndFollowsAnEditOfItsSelector() throws Exception {
        openClusterWithWebGroup("members");
        register("members", "web-1", "web");
        register("members", "web-2", "web");
        register("members", "db-1", "db");
        List<String> placed = createTasks("members", "web-", 6, "{\"type\": \"group\", \"group\": \"web\"}");
        await().atMost(WAIT).until(() -> assigned("members", "web-1").size() + assigned("members", "web-2").size() == 6
                && !assigned("members", "web-1").isEmpty() && !assigned("members", "web-2").isEmpty());
        assertThat(assigned("members", "db-1")).isEmpty();

        RestClient.Response edited = rest.put("/api/v1/clusters/members/groups/web", "{\"selector\": \"role=db\"}");
        assertThat(edited.status()).as(edited.body()).isEqualTo(200);
        await().atMost(WAIT).until(() -> assigned("members", "db-1").containsAll(placed));
        assertThat(assigned("members", "web-1")).isEmpty();
        assertThat(assigned("members", "web-2")).isEmpty();
    }

    @Test
    void aBroadcastToAGroupRunsOnEveryMemberIncludingOneThatJoinsLater() throws Exception {
        openClusterWithWebGroup("everywhere");
        register("everywhere", "web-1", "web");
        register("everywhere", "db-1", "db");
        String id = createTasks("everywhere", "all-", 1, "{\"type\": \"broadcast\", \"group\": \"web\"}").get(0);
        await().atMost(WAIT).until(() -> assigned("everywhere", "web-1").contains(id));
        register("everywhere", "web-2", "web");
        await().atMost(WAIT).until(() -> assigned("everywhere", "web-2").contains(id));
        assertThat(assigned("everywhere", "web-1")).contains(id);
        assertThat(assigned("everywhere", "db-1")).doesNotContain(id);
    }

    @Test
    void aGroupThatTasksArePlacedOnCannotBeDeletedAndTheRefusalNamesThem() {
        openClusterWithWebGroup("in-use");
        List<String> ids = createTasks("in-use", "user-", 22, "{\"type\": \"group\", \"group\": \"web\"}");
        RestClient.Response refused = rest.delete("/api/v1/clusters/in-use/groups/web");
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("code").asText()).isEqualTo("FAILED_PRECONDITION");
        String message = refused.json().get("message").asText();
        assertThat(message).contains("22 live task(s), the first 20");
        List<String> sorted = ids.stream().sorted().toList();
        assertThat(message).contains(sorted.get(0)).contains(sorted.get(19)).doesNotContain(sorted.get(21));

        for (String id : ids) {
            assertThat(rest.delete("/api/v1/tasks/" + id).status()).isEqualTo(204);
        }
        assertThat(rest.delete("/api/v1/clusters/in-use/groups/web").status()).isEqualTo(204);
    }
}
