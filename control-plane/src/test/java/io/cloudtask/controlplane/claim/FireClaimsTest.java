package io.cloudtask.controlplane.claim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.controlplane.testing.TestAgentStream;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.proto.v1.SpecRequest;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Strict delivery's claims over real agent streams, decided by a real PostgreSQL. */
@MicronautTest(environments = "test", transactional = false)
class FireClaimsTest extends ControlPlaneTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final Instant FIRE = Instant.parse("2026-06-01T12:00:00Z");
    private static final AtomicLong CLAIM_IDS = new AtomicLong();

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

    private TestAgentStream agent(String agentId) {
        return new TestAgentStream(channel).hello(agentId, "default");
    }

    /** Claims a fire over the agent's stream and waits for the answer. */
    private static ClaimAnswer claim(TestAgentStream agent, String taskId, Instant fire, boolean broadcast) {
        long id = CLAIM_IDS.incrementAndGet();
        FireClaim.Builder claim = FireClaim.newBuilder().setClaimId(id).setTaskId(taskId).setSpecVersion(1)
                .setBroadcast(broadcast);
        if (fire != null) {
            claim.setFireTime(Timestamps.of(fire));
        }
        agent.send(AgentMessage.newBuilder().setFireClaim(claim).build());
        return await().atMost(WAIT).until(() -> agent.received(ControlMessage::hasClaimAnswer,
                ControlMessage::getClaimAnswer).stream().filter(a -> a.getClaimId() == id).findFirst().orElse(null),
                answer -> answer != null);
    }

    private String createStrictTask(String name) {
        RestClient.Response created = rest.post("/api/v1/tasks", "{\"name\": \"" + name + "\", \"command\": \"true\","
                + " \"schedules\": [], \"delivery\": {\"policy\": \"strict\"}}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().get("delivery").get("policy").asText()).isEqualTo("STRICT");
        return created.json().get("id").asText();
    }

    @Test
    void aFireIsGrantedToOneAgentOnceAndAgainToItsHolder() {
        String taskId = createStrictTask("strict-once");
        TestAgentStream first = agent("claim-agent-1");
        TestAgentStream second = agent("claim-agent-2");

        assertThat(claim(first, taskId, FIRE, false).getGranted()).isTrue();
        ClaimAnswer denied = claim(second, taskId, FIRE, false);
        assertThat(denied.getGranted()).isFalse();
        assertThat(denied.getHolderAgentId()).isEqualTo("claim-agent-1");
        assertThat(denied.getReason()).contains("claimed by agent claim-agent-1");
        // The holder asking again (its answer was lost) is granted again; the next fire is free.
        assertThat(claim(first, taskId, FIRE, false).getGranted()).isTrue();
        assertThat(claim(second, taskId, FIRE.plusSeconds(1), false).getGranted()).isTrue();
    }

    @Test
    void twoAgentsRacingForTheSameFiresGetEachFireExactlyOnce() throws Exception {
        String taskId = createStrictTask("strict-race");
        TestAgentStream first = agent("claim-agent-7");
        TestAgentStream second = agent("claim-agent-8");
        int fires = 200;
        java.util.concurrent.ExecutorService racers = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            var firstGrants = racers.submit(() -> grants(first, taskId, fires));
            var secondGrants = racers.submit(() -> grants(second, taskId, fires));
            java.util.Set<Instant> a = firstGrants.get();
            java.util.Set<Instant> b = secondGrants.get();
            assertThat(a).doesNotContainAnyElementsOf(b);
            assertThat(a.size() + b.size()).isEqualTo(fires);
        } finally {
            racers.shutdownNow();
        }
    }

    private static java.util.Set<Instant> grants(TestAgentStream agent, String taskId, int fires) {
        java.util.Set<Instant> granted = new java.util.HashSet<>();
        for (int i = 0; i < fires; i++) {
            Instant fire = FIRE.plusSeconds(1000 + i);
            if (claim(agent, taskId, fire, false).getGranted()) {
                granted.add(fire);
            }
        }
        return granted;
    }

    @Test
    void eachAgentClaimsItsOwnCopyOfABroadcastFire() {
        String taskId = createStrictTask("strict-broadcast");
        TestAgentStream first = agent("claim-agent-3");
        TestAgentStream second = agent("claim-agent-4");

        assertThat(claim(first, taskId, FIRE, true).getGranted()).isTrue();
        assertThat(claim(second, taskId, FIRE, true).getGranted()).isTrue();
    }

    @Test
    void claimsOfUnknownTasksAndMalformedClaimsAreDeniedWithTheReason() {
        String taskId = createStrictTask("strict-deleted");
        TestAgentStream agent = agent("claim-agent-5");

        assertThat(claim(agent, "00000000-0000-0000-0000-000000000009", FIRE, false).getReason())
                .contains("is deleted or not in cluster 'default'");
        assertThat(claim(agent, "not-a-task", FIRE, false).getReason()).contains("is not a task id");
        assertThat(claim(agent, taskId, null, false).getReason()).contains("fire_time is missing");
        assertThat(rest.delete("/api/v1/tasks/" + taskId).status()).isEqualTo(204);
        assertThat(claim(agent, taskId, FIRE, false).getGranted()).isFalse();
    }

    @Test
    void theDeliveryPolicyReachesTheSpecAndIsValidated() {
        String taskId = createStrictTask("strict-spec");
        TestAgentStream agent = agent("claim-agent-6");
        agent.send(AgentMessage.newBuilder().setSpecRequest(SpecRequest.newBuilder().addTaskIds(taskId)).build());
        TaskSpec spec = await().atMost(WAIT).until(() -> agent.received(ControlMessage::hasTaskSpecs,
                ControlMessage::getTaskSpecs).stream().findFirst().map(specs -> specs.getSpecs(0)).orElse(null),
                s -> s != null);
        assertThat(spec.getStrict()).isTrue();

        RestClient.Response standard = rest.post("/api/v1/tasks", "{\"name\": \"standard\", \"command\": \"true\","
                + " \"schedules\": []}");
        assertThat(standard.json().get("delivery").get("policy").asText()).isEqualTo("STANDARD");
        RestClient.Response bad = rest.post("/api/v1/tasks", "{\"name\": \"bad-delivery\", \"command\": \"true\","
                + " \"schedules\": [], \"delivery\": {\"policy\": \"sometimes\"}}");
        assertThat(bad.status()).isEqualTo(400);
        JsonNode error = bad.json();
        assertThat(error.get("field").asText()).isEqualTo("delivery.policy");
        assertThat(error.get("message").asText()).contains("STANDARD, STRICT");
    }
}
