package io.cloudtask.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Clusters, join tokens and the admission of agents over a real gRPC stream. */
@MicronautTest(environments = "test", transactional = false)
class ClusterAdmissionTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Inject
    EmbeddedServer server;

    @Value("${grpc.server.port}")
    int grpcPort;

    RestClient rest;
    ManagedChannel channel;

    @BeforeEach
    void connect() {
        rest = new RestClient(server.getURI());
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    }

    @AfterEach
    void disconnect() {
        channel.shutdownNow();
    }

    /** Says hello and returns OK once welcomed (closing the stream), or the status the stream was closed with. */
    private Status hello(String agentId, String cluster, String token, String hostname) {
        AtomicReference<Status> outcome = new AtomicReference<>();
        StreamObserver<AgentMessage> out = AgentGatewayGrpc.newStub(channel).connect(new StreamObserver<>() {
            @Override
            public void onNext(ControlMessage message) {
                if (message.hasWelcome()) {
                    outcome.compareAndSet(null, Status.OK);
                }
            }

            @Override
            public void onError(Throwable t) {
                outcome.compareAndSet(null, Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                outcome.compareAndSet(null, Status.CANCELLED.withDescription("completed without welcome"));
            }
        });
        out.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId(agentId).setCluster(cluster)
                .setJoinToken(token).setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId(agentId)
                        .setCluster(cluster).setHostname(hostname).setOs("linux").setArch("amd64"))).build());
        await().atMost(WAIT).until(() -> outcome.get() != null);
        if (outcome.get().isOk()) {
            out.onCompleted();
        }
        return outcome.get();
    }

    private JsonNode createToken(String cluster, String body) {
        RestClient.Response created = rest.post("/api/v1/clusters/" + cluster + "/join-tokens", body);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json();
    }

    private void createCluster(String name) {
        assertThat(rest.post("/api/v1/clusters", "{\"name\": \"" + name + "\"}").status()).isEqualTo(201);
    }

    @Test
    void createsListsAndRevokesTokensShowingTheSecretOnlyOnce() {
        createCluster("tokens");
        JsonNode token = createToken("tokens", "{\"description\": \"rack 4\", \"expiresAt\": \""
                + Instant.now().plusSeconds(3600) + "\"}");
        String secret = token.get("token").asText();
        assertThat(secret).matches("[A-Za-z0-9_-]{43}");
        assertThat(token.get("prefix").asText()).isEqualTo(secret.substring(0, 6));
        assertThat(token.get("description").asText()).isEqualTo("rack 4");
        assertThat(token.get("revoked").asBoolean()).isFalse();

        JsonNode listed = rest.get("/api/v1/clusters/tokens/join-tokens").json();
        assertThat(listed).hasSize(1);
        assertThat(listed.get(0).get("id").asText()).isEqualTo(token.get("id").asText());
        assertThat(listed.get(0).has("token")).isFalse();
        assertThat(listed.get(0).get("expiresAt").isNull()).isFalse();

        RestClient.Response revoked = rest.delete("/api/v1/clusters/tokens/join-tokens/" + token.get("id").asText());
        assertThat(revoked.status()).isEqualTo(200);
        assertThat(revoked.json().get("revoked").asBoolean()).isTrue();
        assertThat(rest.get("/api/v1/clusters/tokens/join-tokens").json().get(0).get("revokedAt").isNull()).isFalse();
        assertThat(rest.delete("/api/v1/clusters/tokens/join-tokens/00000000-0000-0000-0000-000000000000").status())
                .isEqualTo(404);
        assertThat(rest.post("/api/v1/clusters/nowhere/join-tokens", "{}").status()).isEqualTo(404);
    }

    @Test
    void welcomesAnAgentWithAGoodTokenAndRecordsItsUse() {
        createCluster("guarded");
        JsonNode token = createToken("guarded", "{}");
        assertThat(hello("agent-good", "guarded", token.get("token").asText(), "h1").getCode()).isEqualTo(Status.Code.OK);
        assertThat(rest.get("/api/v1/clusters/guarded/join-tokens").json().get(0).get("lastUsedAt").isNull()).isFalse();
    }

    @Test
    void refusesAMissingBadRevokedOrExpiredTokenWithPermissionDenied() throws Exception {
        createCluster("locked");
        assertThat(rest.get("/api/v1/clusters/locked").json().get("requireJoinToken").asBoolean()).isTrue();
        Status none = hello("agent-none", "locked", "", "h");
        assertThat(none.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(none.getDescription()).contains("requires a join token").contains("/join-tokens");

        Status bad = hello("agent-bad", "locked", "not-a-token", "h");
        assertThat(bad.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(bad.getDescription()).contains("not valid for cluster 'locked'");

        JsonNode revoked = createToken("locked", "{}");
        rest.delete("/api/v1/clusters/locked/join-tokens/" + revoked.get("id").asText());
        Status afterRevoke = hello("agent-revoked", "locked", revoked.get("token").asText(), "h");
        assertThat(afterRevoke.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(afterRevoke.getDescription()).contains("was revoked");

        JsonNode expiring = createToken("locked", "{\"expiresAt\": \"" + Instant.now().plusSeconds(3600) + "\"}");
        // Age the token in the database rather than wait an hour.
        try (Connection connection = DriverManager.getConnection(database.url(), database.user(), database.password());
                PreparedStatement update = connection.prepareStatement(
                        "UPDATE join_tokens SET expires_at = now() - interval '1 minute' WHERE id = ?::uuid")) {
            update.setString(1, expiring.get("id").asText());
            assertThat(update.executeUpdate()).isEqualTo(1);
        }
        Status expired = hello("agent-expired", "locked", expiring.get("token").asText(), "h");
        assertThat(expired.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(expired.getDescription()).contains("expired at");
    }

    @Test
    void refusesAHostOutsideTheAllowedHostsAndAdmitsOneInside() {
        assertThat(rest.post("/api/v1/clusters", "{\"name\": \"fenced\", \"requireJoinToken\": false,"
                + " \"allowedHosts\": [\"10.0.0.0/8\", \"build-*.example.com\"]}").status()).isEqualTo(201);
        Status outside = hello("agent-outside", "fenced", "", "laptop.example.com");
        assertThat(outside.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(outside.getDescription()).contains("not in the allowed hosts").contains("127.0.0.1");

        assertThat(hello("agent-by-name", "fenced", "", "build-3.example.com").getCode()).isEqualTo(Status.Code.OK);

        RestClient.Response edited = rest.patch("/api/v1/clusters/fenced", "{\"allowedHosts\": [\"127.0.0.0/8\"]}");
        assertThat(edited.status()).as(edited.body()).isEqualTo(200);
        assertThat(hello("agent-by-address", "fenced", "", "laptop.example.com").getCode()).isEqualTo(Status.Code.OK);
    }

    @Test
    void theDefaultClusterStillAdmitsAgentsWithoutAToken() {
        JsonNode cluster = rest.get("/api/v1/clusters/default").json();
        assertThat(cluster.get("requireJoinToken").asBoolean()).isFalse();
        assertThat(hello("agent-open", "default", "", "anywhere").getCode()).isEqualTo(Status.Code.OK);
    }

    @Test
    void editsAndDeletesAClusterButRefusesWhileTasksOrAgentsUseIt() throws Exception {
        createCluster("scratch");
        RestClient.Response edited = rest.patch("/api/v1/clusters/scratch", "{\"description\": \"for a while\"}");
        assertThat(edited.json().get("description").asText()).isEqualTo("for a while");
        assertThat(edited.json().get("requireJoinToken").asBoolean()).isTrue();

        RestClient.Response task = rest.post("/api/v1/tasks", "{\"name\": \"t\", \"cluster\": \"scratch\","
                + " \"command\": \"true\", \"schedules\": []}");
        assertThat(task.status()).as(task.body()).isEqualTo(201);
        RestClient.Response busy = rest.delete("/api/v1/clusters/scratch");
        assertThat(busy.status()).isEqualTo(409);
        assertThat(busy.json().get("message").asText()).contains("1 live task(s)");
        assertThat(rest.delete("/api/v1/tasks/" + task.json().get("id").asText()).status()).isEqualTo(204);

        try (var agentSide = org.apache.curator.framework.CuratorFrameworkFactory.newClient(zookeeper.getConnectString(),
                new org.apache.curator.retry.RetryOneTime(100))) {
            agentSide.start();
            agentSide.create().creatingParentContainersIfNeeded().withMode(org.apache.zookeeper.CreateMode.EPHEMERAL)
                    .forPath(io.cloudtask.protocol.ZkLayout.agent("scratch", "agent-s"),
                            io.cloudtask.protocol.ZkLayout.encode(AgentInfo.newBuilder().setAgentId("agent-s").build()));
            RestClient.Response withAgent = rest.delete("/api/v1/clusters/scratch");
            assertThat(withAgent.status()).isEqualTo(409);
            assertThat(withAgent.json().get("message").asText()).contains("live agent(s) [agent-s]");
        }
        RestClient.Response gone = rest.delete("/api/v1/clusters/scratch");
        // The deleted task's row is kept for its runs' history, which pins the cluster.
        assertThat(gone.status()).isEqualTo(409);
        assertThat(gone.json().get("message").asText()).contains("deleted tasks");

        createCluster("unused");
        createToken("unused", "{}");
        assertThat(rest.delete("/api/v1/clusters/unused").status()).isEqualTo(204);
        assertThat(rest.get("/api/v1/clusters/unused").status()).isEqualTo(404);
        RestClient.Response defaultDelete = rest.delete("/api/v1/clusters/default");
        assertThat(defaultDelete.status()).isEqualTo(409);
        assertThat(defaultDelete.json().get("message").asText()).contains("cannot be deleted");
    }

    @Test
    void rejectsBadInputNamingTheField() {
        RestClient.Response badCidr = rest.post("/api/v1/clusters", "{\"name\": \"v1\", \"allowedHosts\": [\"ok.example.com\","
                + " \"10.0.0.0/40\"]}");
        assertThat(badCidr.status()).isEqualTo(400);
        assertThat(badCidr.json().get("field").asText()).isEqualTo("allowedHosts[1]");
        assertThat(badCidr.json().get("message").asText()).contains("from 0 to 32");

        RestClient.Response badGlob = rest.patch("/api/v1/clusters/default", "{\"allowedHosts\": [\"bad host!\"]}");
        assertThat(badGlob.status()).isEqualTo(400);
        assertThat(badGlob.json().get("field").asText()).isEqualTo("allowedHosts[0]");

        RestClient.Response past = rest.post("/api/v1/clusters/default/join-tokens",
                "{\"expiresAt\": \"2020-01-01T00:00:00Z\"}");
        assertThat(past.status()).isEqualTo(400);
        assertThat(past.json().get("field").asText()).isEqualTo("expiresAt");
        assertThat(past.json().get("message").asText()).contains("not in the future");

        assertThat(rest.get("/api/v1/clusters/nowhere").status()).isEqualTo(404);
        assertThat(rest.patch("/api/v1/clusters/default", "{\"name\": \"other\"}").json().get("field").asText())
                .isEqualTo("name");
    }
}
