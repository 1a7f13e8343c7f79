package io.cloudtask.agent;

import io.cloudtask.proto.v1.Ack;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.FetchPackageRequest;
import io.cloudtask.proto.v1.PackageChunk;
import io.cloudtask.proto.v1.SpecRequest;
import io.cloudtask.proto.v1.TaskSpecs;
import io.cloudtask.proto.v1.Welcome;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A control-plane gateway for tests, served in-process: it welcomes every Hello, answers
 * SpecRequests with {@link #specs}, optionally acknowledges every run event, and records what it
 * receives, stream by stream. Thread-safe.
 */
public final class FakeGateway extends AgentGatewayGrpc.AgentGatewayImplBase implements AutoCloseable {
    public final String name;
    public final List<Stream> streams = new CopyOnWriteArrayList<>();
    /** Answers spec requests; by default every task is reported missing. */
    public volatile Function<SpecRequest, TaskSpecs> specs =
            request -> TaskSpecs.newBuilder().addAllMissingTaskIds(request.getTaskIdsList()).build();
    /** Acknowledge each run event as it arrives. */
    public volatile boolean autoAck;
    /** When set, every new stream fails at once with this status instead of welcoming. */
    public volatile Status refuseWith;
    /** When positive, streams use manual flow control and grant this many messages up front. */
    public volatile int initialCredit;
    /** Packages served by FetchPackage, by sha256; others are NOT_FOUND. */
    public final Map<String, byte[]> packages = new ConcurrentHashMap<>();
    /** Every FetchPackage request received. */
    public final List<FetchPackageRequest> fetchRequests = new CopyOnWriteArrayList<>();
    /** Bytes per PackageChunk served. */
    public volatile int packageChunkBytes = 64 * 1024;
    private Server server;

    public FakeGateway(String name) {
        this.name = name;
    }

    public FakeGateway start() throws IOException {
        server = InProcessServerBuilder.forName(name).directExecutor().addService(this).build().start();
        return this;
    }

    /** A channel factory that sends every address to this gateway. */
    public io.cloudtask.agent.gateway.ChannelFactory channels() {
        return address -> InProcessChannelBuilder.forName(name).directExecutor().build();
    }

    public Stream current() {
        return streams.get(streams.size() - 1);
    }

    /** Every run event received on any stream, in arrival order (replays included). */
    public List<AgentMessage> runEvents() {
        return streams.stream().flatMap(s -> s.received.stream()).filter(m -> m.getJournalSequence() > 0).toList();
    }

    @Override
    public StreamObserver<AgentMessage> connect(StreamObserver<ControlMessage> responses) {
        Stream stream = new Stream((ServerCallStreamObserver<ControlMessage>) responses);
        streams.add(stream);
        if (initialCredit > 0) {
            stream.responses.disableAutoRequest();
            stream.responses.request(initialCredit);
        }
        return stream;
    }

    @Override
    public void fetchPackage(FetchPackageRequest request, StreamObserver<PackageChunk> responses) {
        fetchRequests.add(request);
        byte[] content = packages.get(request.getSha256());
        if (content == null) {
            responses.onError(Status.NOT_FOUND.withDescription("no package " + request.getSha256()).asRuntimeException());
            return;
        }
        for (long offset = request.getOffset(); offset < content.length; offset += packageChunkBytes) {
            int length = (int) Math.min(packageChunkBytes, content.length - offset);
            responses.onNext(PackageChunk.newBuilder().setOffset(offset).setTotalSize(content.length)
                    .setData(com.google.protobuf.ByteString.copyFrom(content, (int) offset, length)).build());
        }
        responses.onCompleted();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }

    /** One agent stream as the server sees it. */
    public final class Stream implements StreamObserver<AgentMessage> {
        public final List<AgentMessage> received = new CopyOnWriteArrayList<>();
        public final long openedAtNanos = System.nanoTime();
        private final ServerCallStreamObserver<ControlMessage> responses;
        private volatile boolean closed;

        Stream(ServerCallStreamObserver<ControlMessage> responses) {
            this.responses = responses;
        }

        @Override
        public void onNext(AgentMessage message) {
            received.add(message);
            switch (message.getBodyCase()) {
                case HELLO -> {
                    Status refusal = refuseWith;
                    if (refusal != null) {
                        fail(refusal);
                    } else {
                        send(ControlMessage.newBuilder().setWelcome(Welcome.newBuilder()
                                .setProtocolVersion(1).setReplicaId(name)).build());
                    }
                }
                case SPEC_REQUEST -> send(ControlMessage.newBuilder()
                        .setTaskSpecs(specs.apply(message.getSpecRequest())).build());
                default -> {
                    if (autoAck && message.getJournalSequence() > 0) {
                        ack(message.getJournalSequence());
                    }
                }
            }
        }

        public void ack(long journalSequence) {
            send(ControlMessage.newBuilder().setAck(Ack.newBuilder().setJournalSequence(journalSequence)).build());
        }

        public void request(int messages) {
            responses.request(messages);
        }

        /** Ends the stream from the server side, as a crashing or restarting replica would. */
        public synchronized void fail(Status status) {
            if (!closed) {
                closed = true;
                responses.onError(status.asRuntimeException());
            }
        }

        public synchronized void send(ControlMessage message) {
            if (!closed) {
                responses.onNext(message);
            }
        }

        public List<AgentMessage> runEvents() {
            return received.stream().filter(m -> m.getJournalSequence() > 0).toList();
        }

        @Override
        public synchronized void onError(Throwable t) {
            closed = true;
        }

        @Override
        public synchronized void onCompleted() {
            if (!closed) {
                closed = true;
                responses.onCompleted();
            }
        }
    }
}
