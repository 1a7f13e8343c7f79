package io.cloudtask.controlplane.testing;

import static org.awaitility.Awaitility.await;

import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A real agent stream on a real gRPC channel, for component tests: it records everything the
 * control plane sends and can answer messages as they arrive, as an agent would. Thread-safe.
 */
public final class TestAgentStream implements StreamObserver<ControlMessage> {
    private static final Duration WAIT = Duration.ofSeconds(15);

    private final List<ControlMessage> received = new CopyOnWriteArrayList<>();
    private final StreamObserver<AgentMessage> out;
    private volatile Function<ControlMessage, AgentMessage> responder = message -> null;

    public TestAgentStream(Channel channel) {
        this.out = AgentGatewayGrpc.newStub(channel).connect(this);
    }

    /** Sends hello as {@code agentId} of {@code cluster} and waits for the welcome. */
    public TestAgentStream hello(String agentId, String cluster) {
        send(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId(agentId).setCluster(cluster)
                .setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId(agentId).setHostname("test-host")
                        .setOs("linux").setArch("amd64"))).build());
        await().atMost(WAIT).until(() -> received.stream().anyMatch(ControlMessage::hasWelcome));
        return this;
    }

    /** From now on, sends what {@code responder} returns for each message received (null: nothing). */
    public void respondWith(Function<ControlMessage, AgentMessage> responder) {
        this.responder = responder;
    }

    public synchronized void send(AgentMessage message) {
        out.onNext(message);
    }

    /** Half-closes the stream, as an agent that stops. */
    public void complete() {
        out.onCompleted();
    }

    /** Every message received so far. */
    public List<ControlMessage> received() {
        return List.copyOf(received);
    }

    /** The received messages of one kind, for example {@code received(ControlMessage::hasRunNow, ControlMessage::getRunNow)}. */
    public <T> List<T> received(Predicate<ControlMessage> kind, Function<ControlMessage, T> body) {
        return received.stream().filter(kind).map(body).toList();
    }

    @Override
    public void onNext(ControlMessage message) {
        received.add(message);
        AgentMessage reply = responder.apply(message);
        if (reply != null) {
            send(reply);
        }
    }

    @Override
    public void onError(Throwable t) {
        // The tests look at what was received; a stream the server closes simply ends here.
    }

    @Override
    public void onCompleted() {
        // As onError.
    }
}
