package io.cloudtask.agent.pkg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.agent.FakeGateway;
import io.cloudtask.proto.v1.FetchPackageRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GrpcPackageFetcherTest {
    private FakeGateway gateway;
    private GrpcPackageFetcher fetcher;

    @BeforeEach
    void start() throws IOException {
        gateway = new FakeGateway("fetcher-" + System.nanoTime()).start();
        fetcher = new GrpcPackageFetcher(new GrpcPackageFetcher.Identity("agent-7", "batch", "secret"),
                List.of("cp-1:9090", "cp-2:9090"), gateway.channels(), Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() throws InterruptedException {
        fetcher.close();
        gateway.close();
    }

    @Test
    void fetchesAPackageFromAnOffsetPresentingTheAgentsIdentity() throws IOException {
        byte[] content = new byte[200_000];
        new java.util.Random(1).nextBytes(content);
        String sha256 = TestArchives.sha256(content);
        gateway.packages.put(sha256, content);
        ByteArrayOutputStream received = new ByteArrayOutputStream();

        fetcher.fetch(sha256, 1234, data -> data.writeTo(received));

        assertThat(received.toByteArray()).isEqualTo(Arrays.copyOfRange(content, 1234, content.length));
        FetchPackageRequest request = gateway.fetchRequests.get(0);
        assertThat(request.getAgentId()).isEqualTo("agent-7");
        assertThat(request.getCluster()).isEqualTo("batch");
        assertThat(request.getJoinToken()).isEqualTo("secret");
        assertThat(request.getOffset()).isEqualTo(1234);
    }

    @Test
    void aRefusalEndsTheFetchWithoutAskingTheNextReplica() {
        assertThatThrownBy(() -> fetcher.fetch("b".repeat(64), 0, data -> { }))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("refused")
                .hasMessageContaining("NOT_FOUND");
        assertThat(gateway.fetchRequests).hasSize(1);
    }

    @Test
    void aSinkThatGivesUpEndsTheCall() {
        byte[] content = new byte[300_000];
        String sha256 = TestArchives.sha256(content);
        gateway.packages.put(sha256, content);

        assertThatThrownBy(() -> fetcher.fetch(sha256, 0, data -> {
            throw new IOException("disk full");
        })).isInstanceOf(IOException.class).hasMessage("disk full");
    }
}
