package io.cloudtask.controlplane.pkg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.FetchPackageRequest;
import io.cloudtask.proto.v1.PackageChunk;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.micronaut.context.annotation.Value;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** FetchPackage over a real gRPC channel to the control plane's gRPC port. */
@MicronautTest(environments = "test", transactional = false)
class PackageFetchTest extends ControlPlaneTest {
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

    private String taskWithPackage(String name, String cluster, byte[] content) {
        RestClient.Response created = rest.post("/api/v1/tasks", "{\"name\": \"" + name + "\", \"cluster\": \""
                + cluster + "\", \"command\": \"./run.sh\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String id = created.json().get("id").asText();
        assertThat(rest.postFile("/api/v1/tasks/" + id + "/package", "file", "p.zip", content).status()).isEqualTo(201);
        return id;
    }

    private static FetchPackageRequest request(String cluster, String sha256, long offset) {
        return FetchPackageRequest.newBuilder().setAgentId("agent-1").setCluster(cluster).setSha256(sha256)
                .setOffset(offset).build();
    }

    private byte[] fetch(FetchPackageRequest request, List<PackageChunk> chunks) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Iterator<PackageChunk> stream = AgentGatewayGrpc.newBlockingStub(channel)
                .withDeadlineAfter(java.util.concurrent.TimeUnit.SECONDS.toNanos(30), java.util.concurrent.TimeUnit.NANOSECONDS)
                .fetchPackage(request);
        while (stream.hasNext()) {
            PackageChunk chunk = stream.next();
            chunks.add(chunk);
            bytes.writeBytes(chunk.getData().toByteArray());
        }
        return bytes.toByteArray();
    }

    @Test
    void streamsTheWholePackageInOneMebibyteChunks() {
        byte[] zip = Archives.zip(2_600_000, 21);
        taskWithPackage("fetched", "default", zip);
        List<PackageChunk> chunks = new CopyOnWriteArrayList<>();

        byte[] fetched = fetch(request("default", Archives.sha256(zip), 0), chunks);

        assertThat(fetched).isEqualTo(zip);
        assertThat(chunks).hasSize(3);
        assertThat(chunks).extracting(PackageChunk::getOffset).containsExactly(0L, 1_048_576L, 2_097_152L);
        assertThat(chunks).allSatisfy(c -> assertThat(c.getTotalSize()).isEqualTo(zip.length));
    }

    @Test
    void resumesFromAnOffset() {
        byte[] zip = Archives.zip(2_600_000, 22);
        taskWithPackage("resumed", "default", zip);
        List<PackageChunk> chunks = new CopyOnWriteArrayList<>();

        byte[] rest = fetch(request("default", Archives.sha256(zip), 1_500_000), chunks);

        assertThat(rest).isEqualTo(Arrays.copyOfRange(zip, 1_500_000, zip.length));
        assertThat(chunks.get(0).getOffset()).isEqualTo(1_500_000);
        assertThat(chunks.get(0).getData().size()).as("up to the end of stored chunk 1").isEqualTo(2_097_152 - 1_500_000);
        assertThat(fetch(request("default", Archives.sha256(zip), zip.length), chunks)).isEmpty();
        assertThatThrownBy(() -> fetch(request("default", Archives.sha256(zip), zip.length + 1L), chunks))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }

    @Test
    void sendsOnlyAsFastAsTheAgentAsks() {
        byte[] zip = Archives.zip(3_000_000, 23);
        taskWithPackage("flow-controlled", "default", zip);
        List<PackageChunk> received = new CopyOnWriteArrayList<>();
        AtomicBoolean completed = new AtomicBoolean();
        AtomicReference<ClientCallStreamObserver<FetchPackageRequest>> call = new AtomicReference<>();
        AgentGatewayGrpc.newStub(channel).fetchPackage(request("default", Archives.sha256(zip), 0),
                new ClientResponseObserver<FetchPackageRequest, PackageChunk>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<FetchPackageRequest> requestStream) {
                        call.set(requestStream);
                        requestStream.disableAutoRequestWithInitial(1);
                    }

                    @Override
                    public void onNext(PackageChunk chunk) {
                        received.add(chunk);
                    }

                    @Override
                    public void onError(Throwable t) {
                        throw new AssertionError("fetch failed", t);
                    }

                    @Override
                    public void onCompleted() {
                        completed.set(true);
                    }
                });

        await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 1);
        assertThat(completed).isFalse();
        call.get().request(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 2);
        call.get().request(10);
        await().atMost(Duration.ofSeconds(10)).untilTrue(completed);
        assertThat(received).hasSize(3);
    }

    @Test
    void aPackageNoTaskOfTheClusterUsesIsNotFound() {
        byte[] zip = Archives.zip(100, 24);
        rest.post("/api/v1/clusters", "{\"name\": \"elsewhere\", \"requireJoinToken\": false}");
        taskWithPackage("other-cluster", "elsewhere", zip);

        assertThat(statusOf(request("default", Archives.sha256(zip), 0))).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(statusOf(request("default", "0".repeat(64), 0))).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(fetch(request("elsewhere", Archives.sha256(zip), 0), new CopyOnWriteArrayList<>())).isEqualTo(zip);
    }

    @Test
    void aDeletedTasksPackageIsNotFound() {
        byte[] zip = Archives.zip(100, 25);
        String id = taskWithPackage("deleted-later", "default", zip);
        assertThat(rest.delete("/api/v1/tasks/" + id).status()).isEqualTo(204);

        assertThat(statusOf(request("default", Archives.sha256(zip), 0))).isEqualTo(Status.Code.NOT_FOUND);
    }

    @Test
    void anOlderKeptVersionCanStillBeFetched() {
        byte[] first = Archives.zip(100, 26);
        String id = taskWithPackage("re-uploaded", "default", first);
        assertThat(rest.postFile("/api/v1/tasks/" + id + "/package", "file", "next.zip", Archives.zip(100, 27))
                .status()).isEqualTo(201);

        assertThat(fetch(request("default", Archives.sha256(first), 0), new CopyOnWriteArrayList<>())).isEqualTo(first);
    }

    @Test
    void anAgentNotAdmittedIsRefused() {
        byte[] zip = Archives.zip(100, 28);
        rest.post("/api/v1/clusters", "{\"name\": \"locked\", \"requireJoinToken\": true}");
        taskWithPackage("locked-task", "locked", zip);

        assertThat(statusOf(request("locked", Archives.sha256(zip), 0))).isEqualTo(Status.Code.PERMISSION_DENIED);

        String token = rest.post("/api/v1/clusters/locked/join-tokens", "{}").json().get("token").asText();
        FetchPackageRequest admitted = request("locked", Archives.sha256(zip), 0).toBuilder().setJoinToken(token).build();
        assertThat(fetch(admitted, new CopyOnWriteArrayList<>())).isEqualTo(zip);
    }

    @Test
    void malformedRequestsAreRejected() {
        assertThat(statusOf(request("default", "not-a-sha", 0))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(statusOf(request("default", "A".repeat(64), 0))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(statusOf(request("default", "0".repeat(64), 0).toBuilder().setAgentId("bad id!").build()))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(statusOf(request("no-such-cluster", "0".repeat(64), 0))).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }

    private Status.Code statusOf(FetchPackageRequest request) {
        try {
            fetch(request, new CopyOnWriteArrayList<>());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }
}
