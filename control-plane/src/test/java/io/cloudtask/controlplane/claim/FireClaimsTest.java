package io.cloudtask.controlplane.claim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.SpecRequest;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
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

    private final class AgentStream implements StreamObserver<ControlMessage> {
        final List<ControlMessage> received = new CopyOnWriteArrayList<>();
        final StreamObserver<AgentMessage> out = AgentGatewayGrpc.newStub(channel).connect(this);

        @Override
        public void onNext(ControlMessage message) {
            received.add(message);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}

        AgentStream hello(String agentId) {
            out.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId(agentId).setCluster("default")
                    .setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId(agentId).setHostname("h"))).build());
            await().atMost(WAIT).until(() -> received.stream().anyMatch(ControlMessage::hasWelcome));
            return this;
        }

        synchronized ClaimAnswer claim(String taskId, Instant fire, boolean broadcast) {
            long id = CLAIM_IDS.incrementAndGet();
            FireClaim.Builder claim = FireClaim.newBuilder().setClaimId(id).setTaskId(taskId).setSpecVersion(1)
                    .setBroadcast(broadcast);
            if (fire != null) {
                claim.setFireTime(Timestamps.of(fire));
            }
            out.onNext(AgentMessage.newBuilder().setFireClaim(claim).build());
            return await().atMost(WAIT).until(() -> received.stream().filter(ControlMessage::hasClaimAnswer)
                    .map(ControlMessage::getClaimAnswer).filter(a -> a.getClaimId() == id).findFirst().orElse(null),
                    answer -> answer != null);
        }
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
        AgentStream first = new AgentStream().hello("claim-agent-1");
        AgentStream second = new AgentStream().hello("claim-agent-2");

        assertThat(first.claim(taskId, FIRE, false).getGranted()).isTrue();
        ClaimAnswer denied = second.claim(taskId, FIRE, false);
        assertThat(denied.getGranted()).isFalse();
        assertThat(denied.getHolderAgentId()).isEqualTo("claim-agent-1");
        assertThat(denied.getReason()).contains("claimed by agent claim-agent-1");
        // The holder asking again (its answer was lost) is granted again; the next fire is free.
        assertThat(first.claim(taskId, FIRE, false).getGranted()).isTrue();
        assertThat(second.claim(taskId, FIRE.plusSeconds(1), false).getGranted()).isTrue();
    }

    @Test
    void twoAgentsRacingForTheSameFiresGetEachFireExactlyOnce() throws Exception {
        String taskId = createStrictTask("strict-race");
        AgentStream first = new AgentStream().hello("claim-agent-7");
        AgentStream second = new AgentStream().hello("claim-agent-8");
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

    private static java.util.Set<Instant> grants(AgentStream agent, String taskId, int fires) {
        java.util.Set<Instant> granted = new java.util.HashSet<>();
        for (int i = 0; i < fires; i++) {
            Instant fire = FIRE.plusSeconds(1000 + i);
            if (agent.claim(taskId, fire, false).getGranted()) {
                granted.add(fire);
            }
        }
        return granted;
    }

    @Test
    void eachAgentClaimsItsOwnCopyOfABroadcastFire() {
        String taskId = createStrictTask("strict-broadcast");
        AgentStream first = new AgentStream().hello("claim-agent-3");
        AgentStream second = new AgentStream().hello("claim-agent-4");

        assertThat(first.claim(taskId, FIRE, true).getGranted()).isTrue();
        assertThat(second.claim(taskId, FIRE, true).getGranted()).isTrue();
    }

    @Test
    void claimsOfUnknownTasksAndMalformedClaimsAreDeniedWithTheReason() {
        String taskId = createStrictTask("strict-deleted");
        AgentStream agent = new AgentStream().hello("claim-agent-5");

        assertThat(agent.claim("00000000-0000-0000-0000-000000000009", FIRE, false).getReason())
                .contains("is deleted or not in cluster 'default'");
        assertThat(agent.claim("not-a-task", FIRE, false).getReason()).contains("is not a task id");
        assertThat(agent.claim(taskId, null, false).getReason()).contains("fire_time is missing");
        assertThat(rest.delete("/api/v1/tasks/" + taskId).status()).isEqualTo(204);
        assertThat(agent.claim(taskId, FIRE, false).getGranted()).isFalse();
    }

    @Test
    void theDeliveryPolicyReachesTheSpecAndIsValidated() {
        String taskId = createStrictTask("strict-spec");
        AgentStream agent = new AgentStream().hello("claim-agent-6");
        agent.out.onNext(AgentMessage.newBuilder().setSpecRequest(SpecRequest.newBuilder().addTaskIds(taskId)).build());
        TaskSpec spec = await().atMost(WAIT).until(() -> agent.received.stream().filter(ControlMessage::hasTaskSpecs)
                .findFirst().map(m -> m.getTaskSpecs().getSpecs(0)).orElse(null), s -> s != null);
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
