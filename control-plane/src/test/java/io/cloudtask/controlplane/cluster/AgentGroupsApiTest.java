package io.cloudtask.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.protocol.ZkLayout;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Agent groups: CRUD under a cluster, members read from the agents' ZooKeeper nodes, validation. */
@MicronautTest(environments = "test", transactional = false)
class AgentGroupsApiTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

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

    private void openCluster(String name) {
        assertThat(rest.post("/api/v1/clusters", "{\"name\": \"" + name + "\", \"requireJoinToken\": false}").status())
                .isEqualTo(201);
    }

    private void register(String cluster, String agentId, String os, Map<String, String> labels) throws Exception {
        agentSide.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
                .forPath(ZkLayout.agent(cluster, agentId), ZkLayout.encode(AgentInfo.newBuilder().setAgentId(agentId)
                        .setCluster(cluster).setHostname(agentId + ".example").setOs(os).setArch("amd64")
                        .setCapacity(1).putAllLabels(labels).build()));
    }

    private RestClient.Response createGroup(String cluster, String body) {
        return rest.post("/api/v1/clusters/" + cluster + "/groups", body);
    }

    private String rejectedField(RestClient.Response response) {
        assertThat(response.status()).as(response.body()).isEqualTo(400);
        assertThat(response.json().get("code").asText()).isEqualTo("INVALID_ARGUMENT");
        JsonNode field = response.json().get("field");
        return field == null || field.isNull() ? null : field.asText();
    }

    @Test
    void createsListsEditsAndDeletesAGroupWhoseMembersAreTheOnlineAgentsItsSelectorAdmits() throws Exception {
        openCluster("crud");
        register("crud", "web-1", "linux", Map.of("role", "web", "zone", "a"));
        register("crud", "web-2", "linux", Map.of("role", "web", "zone", "b"));
        register("crud", "db-1", "windows", Map.of("role", "db", "zone", "a"));

        RestClient.Response created = createGroup("crud",
                "{\"name\": \"web\", \"selector\": \"zone=a , role=web\", \"description\": \"front ends\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        JsonNode web = created.json();
        assertThat(web.get("cluster").asText()).isEqualTo("crud");
        assertThat(web.get("selector").asText()).isEqualTo("role=web,zone=a");
        assertThat(web.get("description").asText()).isEqualTo("front ends");
        assertThat(web.get("version").asLong()).isEqualTo(1);
        assertThat(web.get("members")).extracting(JsonNode::asText).containsExactly("web-1");
        // os and arch count as labels, as the allocator sees them.
        assertThat(createGroup("crud", "{\"name\": \"windows\", \"selector\": \"os=windows\"}").json().get("members"))
                .extracting(JsonNode::asText).containsExactly("db-1");

        JsonNode list = rest.get("/api/v1/clusters/crud/groups").json();
        assertThat(list).extracting(group -> group.get("name").asText()).containsExactly("web", "windows");
        assertThat(list).extracting(group -> group.get("memberCount").asInt()).containsExactly(1, 1);
        assertThat(list.get(0).has("members")).isFalse();

        RestClient.Response edited = rest.put("/api/v1/clusters/crud/groups/web",
                "{\"selector\": \"role=web\", \"version\": 1}");
        assertThat(edited.status()).as(edited.body()).isEqualTo(200);
        assertThat(edited.json().get("version").asLong()).isEqualTo(2);
        assertThat(edited.json().get("description").asText()).isEqualTo("front ends");
        assertThat(rest.get("/api/v1/clusters/crud/groups/web").json().get("members")).extracting(JsonNode::asText)
                .containsExactly("web-1", "web-2");
        RestClient.Response stale = rest.put("/api/v1/clusters/crud/groups/web", "{\"description\": \"x\", \"version\": 1}");
        assertThat(stale.status()).isEqualTo(409);
        assertThat(stale.json().get("field").asText()).isEqualTo("version");

        // An agent leaving is no longer a member; the agents API lists each agent's groups.
        agentSide.delete().forPath(ZkLayout.agent("crud", "web-2"));
        assertThat(rest.get("/api/v1/clusters/crud/groups/web").json().get("members")).extracting(JsonNode::asText)
                .containsExactly("web-1");
        assertThat(rest.get("/api/v1/agents/web-1").json().get("groups")).extracting(JsonNode::asText)
                .containsExactly("web");
        assertThat(rest.get("/api/v1/agents?cluster=crud").json()).extracting(agent -> agent.get("groups").size())
                .containsExactly(1, 1);

        assertThat(rest.delete("/api/v1/clusters/crud/groups/web").status()).isEqualTo(204);
        assertThat(rest.get("/api/v1/clusters/crud/groups/web").status()).isEqualTo(404);
        assertThat(rest.get("/api/v1/clusters/crud/groups").json()).extracting(group -> group.get("name").asText())
                .containsExactly("windows");
    }

    @Test
    void rejectsEveryBadFieldNamingIt() {
        openCluster("checks");
        String path = "/api/v1/clusters/checks/groups";
        assertThat(rejectedField(rest.post(path, ""))).isNull();
        assertThat(rejectedField(createGroup("checks", "{\"selector\": \"role=web\"}"))).isEqualTo("name");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"-web\", \"selector\": \"role=web\"}")))
                .isEqualTo("name");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"a/b\", \"selector\": \"role=web\"}")))
                .isEqualTo("name");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"" + "g".repeat(64) + "\", \"selector\": \"a\"}")))
                .isEqualTo("name");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"web\"}"))).isEqualTo("selector");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"web\", \"selector\": \" \"}"))).isEqualTo("selector");
        RestClient.Response badSelector = createGroup("checks", "{\"name\": \"web\", \"selector\": \"role=\"}");
        assertThat(rejectedField(badSelector)).isEqualTo("selector");
        assertThat(badSelector.json().get("message").asText()).contains("requirement 1 'role='");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"web\", \"selector\": \"zone in (a,b)\"}")))
                .isEqualTo("selector");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"web\", \"selector\": \"a=" + "b".repeat(4100)
                + "\"}"))).isEqualTo("selector");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"web\", \"selector\": \"a\", \"description\": \""
                + "d".repeat(1001) + "\"}"))).isEqualTo("description");
        assertThat(rejectedField(createGroup("checks", "{\"name\": \"web\", \"selector\": \"a\", \"version\": 3}")))
                .isEqualTo("version");
        assertThat(rest.post(path, "{\"name\": \"web\", \"selector\": {\"a\": 1}}").status()).isEqualTo(400);
        assertThat(rest.get(path).json()).isEmpty();

        assertThat(createGroup("checks", "{\"name\": \"web\", \"selector\": \"role=web\"}").status()).isEqualTo(201);
        RestClient.Response duplicate = createGroup("checks", "{\"name\": \"web\", \"selector\": \"role=other\"}");
        assertThat(duplicate.status()).isEqualTo(409);
        assertThat(duplicate.json().get("field").asText()).isEqualTo("name");
        assertThat(rejectedField(rest.put(path + "/web", ""))).isNull();
        assertThat(rejectedField(rest.put(path + "/web", "{\"name\": \"api\"}"))).isEqualTo("name");
        assertThat(rejectedField(rest.put(path + "/web", "{\"selector\": \"\"}"))).isEqualTo("selector");
        assertThat(rejectedField(rest.put(path + "/web", "{\"selector\": \"!\"}"))).isEqualTo("selector");
        assertThat(rejectedField(rest.put(path + "/web", "{\"description\": \"" + "d".repeat(1001) + "\"}")))
                .isEqualTo("description");
        JsonNode unchanged = rest.get(path + "/web").json();
        assertThat(unchanged.get("selector").asText()).isEqualTo("role=web");
        assertThat(unchanged.get("version").asLong()).isEqualTo(1);
    }

    @Test
    void anUnknownClusterOrGroupIsNotFound() {
        openCluster("known");
        for (RestClient.Response response : new RestClient.Response[] {
                rest.get("/api/v1/clusters/nowhere/groups"),
                rest.post("/api/v1/clusters/nowhere/groups", "{\"name\": \"web\", \"selector\": \"a\"}"),
                rest.get("/api/v1/clusters/nowhere/groups/web"),
                rest.put("/api/v1/clusters/nowhere/groups/web", "{\"selector\": \"a\"}"),
                rest.delete("/api/v1/clusters/nowhere/groups/web"),
                rest.get("/api/v1/clusters/known/groups/web"),
                rest.put("/api/v1/clusters/known/groups/web", "{\"selector\": \"a\"}"),
                rest.delete("/api/v1/clusters/known/groups/web"),
                rest.get("/api/v1/clusters/known/groups/bad%20name")}) {
            assertThat(response.status()).as(response.body()).isEqualTo(404);
            assertThat(response.json().get("code").asText()).isEqualTo("NOT_FOUND");
        }
    }

    @Test
    void deletingAClusterDeletesItsGroups() {
        openCluster("short-lived");
        assertThat(createGroup("short-lived", "{\"name\": \"web\", \"selector\": \"role=web\"}").status()).isEqualTo(201);
        assertThat(rest.delete("/api/v1/clusters/short-lived").status()).isEqualTo(204);
        openCluster("short-lived");
        assertThat(rest.get("/api/v1/clusters/short-lived/groups").json()).isEmpty();
    }
}
