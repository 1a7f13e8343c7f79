package io.cloudtask.it;

import io.cloudtask.proto.v1.Ack;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A lightweight agent stream for load measurements: many can share one channel. It speaks the
 * real protocol (hello, run events with journal sequences, acks, fire claims) and honours flow control: it
 * sends only while the stream is ready. Thread-safe; gRPC calls its callbacks on its own threads.
 */
final class SimulatedAgent implements ClientResponseObserver<AgentMessage, ControlMessage> {
    private final String agentId;
    private final CountDownLatch welcomed = new CountDownLatch(1);
    private final AtomicLong acknowledged = new AtomicLong();
    private final AtomicLong journal = new AtomicLong();
    private final ConcurrentLinkedQueue<AgentMessage> pending = new ConcurrentLinkedQueue<>();
    private volatile ClientCallStreamObserver<AgentMessage> out;
    private volatile Throwable failure;
    private volatile Consumer<ClaimAnswer> claimAnswers = answer -> { };

    SimulatedAgent(String agentId) {
        this.agentId = agentId;
    }

    void connect(ManagedChannel channel) {
        AgentGatewayGrpc.newStub(channel).connect(this);
        out.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder().setAgentId(agentId).setCluster("default")
                .setProtocolVersion(1).setInfo(AgentInfo.newBuilder().setAgentId(agentId).setCluster("default")
                        .setHostname("simulated").setOs("linux").setArch("amd64"))).build());
    }

    boolean awaitWelcome(long timeout, TimeUnit unit) throws InterruptedException {
        return welcomed.await(timeout, unit);
    }

    /** Queues a run event with the next journal sequence; returns that sequence. */
    long send(AgentMessage event) {
        long sequence = journal.incrementAndGet();
        pending.add(event.toBuilder().setJournalSequence(sequence).build());
        drain();
        return sequence;
    }

    /** Queues a message that is not a run event (a fire claim), without a journal sequence. */
    void sendUnjournaled(AgentMessage message) {
        pending.add(message);
        drain();
    }

    /** Where claim answers go (called on gRPC threads). */
    void onClaimAnswers(Consumer<ClaimAnswer> consumer) {
        this.claimAnswers = consumer;
    }

    /** The journal sequence of the last event queued. */
    long sentSequence() {
        return journal.get();
    }

    long acknowledged() {
        return acknowledged.get();
    }

    Throwable failure() {
        return failure;
    }

    void close() {
        if (out != null) {
            out.onCompleted();
        }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<AgentMessage> requestStream) {
        this.out = requestStream;
        requestStream.setOnReadyHandler(this::drain);
    }

    private synchronized void drain() {
        ClientCallStreamObserver<AgentMessage> stream = out;
        while (stream != null && stream.isReady()) {
            AgentMessage next = pending.poll();
            if (next == null) {
                return;
            }
            stream.onNext(next);
        }
    }

    @Override
    public void onNext(ControlMessage message) {
        if (message.hasWelcome()) {
            welcomed.countDown();
        } else if (message.hasAck()) {
            Ack ack = message.getAck();
            acknowledged.accumulateAndGet(ack.getJournalSequence(), Math::max);
        } else if (message.hasClaimAnswer()) {
            claimAnswers.accept(message.getClaimAnswer());
        }
    }

    @Override
    public void onError(Throwable t) {
        failure = t;
        welcomed.countDown();
    }

    @Override
    public void onCompleted() {
        welcomed.countDown();
    }
}
