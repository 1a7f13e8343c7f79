package io.cloudtask.controlplane.gateway;

import io.cloudtask.controlplane.api.GrpcErrors;
import io.cloudtask.controlplane.task.SpecLookup;
import io.cloudtask.proto.v1.Ack;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.ProtocolVersion;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import io.cloudtask.proto.v1.Welcome;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One agent's {@code Connect} stream on this replica.
 *
 * <p>Flow control: inbound messages are requested explicitly, at most {@link #WINDOW} ahead of
 * what has been taken for processing, so a fast agent cannot grow this replica's memory. Run
 * events that arrive together are stored in one transaction and acknowledged (cumulatively, by
 * journal sequence) only after the commit; the places a batch frees in the window are requested
 * again just before it is stored, so the next messages arrive while it is. A storage failure closes the stream with UNAVAILABLE: the
 * agent reconnects and replays what was not acknowledged, and ingestion is idempotent.
 *
 * <p>Threading: gRPC calls {@code onNext}/{@code onError}/{@code onCompleted} on its own threads;
 * they only enqueue. Everything else, including every write to the response observer, runs on
 * this session's {@link SerialExecutor}.
 */
final class AgentSession implements StreamObserver<AgentMessage> {
    private static final Logger log = LoggerFactory.getLogger(AgentSession.class);
    /**
     * Inbound messages requested ahead of processing. Larger batches mean fewer commits (the cost
     * that dominates ingestion). The memory bound per stream is WINDOW times the largest message
     * ({@link #MAX_CHUNK_BYTES} for output), 16 MiB, plus the batch being stored (at most
     * {@link #BATCH_BYTES} of output and one chunk more), 24 MiB in all.
     */
    static final int WINDOW = 256;
    /** The largest output chunk accepted (the Java agent sends at most 32 KiB). */
    static final int MAX_CHUNK_BYTES = 64 * 1024;
    /** A batch is stored once it holds this much output, even if more messages are queued. */
    private static final int BATCH_BYTES = 8 * 1024 * 1024;

    private final ServerCallStreamObserver<ControlMessage> out;
    private final SerialExecutor serial;
    private final GatewayContext context;
    /** Where the stream comes from (null when the transport does not say, e.g. in-process). */
    private final InetAddress remote;
    private final Queue<AgentMessage> inbox = new ConcurrentLinkedQueue<>();
    private String agentId;
    private String cluster;
    private boolean closed;
    /** Output bytes in the batch being gathered (drain thread only). */
    private int batchBytes;
    /** Messages taken from the inbox whose places in the window were not requested again yet (drain thread only). */
    private int taken;

    AgentSession(ServerCallStreamObserver<ControlMessage> out, SerialExecutor serial, GatewayContext context,
            InetAddress remote) {
        this.remote = remote;
        this.out = out;
        this.serial = serial;
        this.context = context;
    }

    /** Called once, during the gRPC handler, before any message arrives. */
    void start() {
        out.disableAutoRequest();
        out.setOnCancelHandler(() -> serial.execute(() -> end("cancelled by the agent")));
        out.request(1);
    }

    String agentId() {
        return agentId;
    }

    @Override
    public void onNext(AgentMessage message) {
        inbox.add(message);
        serial.execute(this::drain);
    }

    @Override
    public void onError(Throwable t) {
        serial.execute(() -> end("stream error: " + Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
        serial.execute(() -> {
            if (!closed) {
                out.onCompleted();
            }
            end("closed by the agent");
        });
    }

    /** Sends the agent's pending commands, on this session's executor. */
    void deliverCommands() {
        serial.execute(() -> {
            if (!closed && agentId != null) {
                try {
                    sendCommands(false);
                } catch (RuntimeException e) {
                    // The sweep and the next stream deliver them: a failed read is not the stream's fault.
                    log.warn("could not deliver commands to agent {}: {}", agentId, e.toString());
                }
            }
        });
    }

    /** Closes this stream from the server side (for example when a newer stream replaces it). */
    void close(Status status) {
        serial.execute(() -> fail(status));
    }

    private void drain() {
        List<AgentMessage> runEvents = new ArrayList<>();
        List<FireClaim> claims = new ArrayList<>();
        AgentMessage message;
        while (!closed && (message = inbox.poll()) != null) {
            taken++;
            try {
                switch (message.getBodyCase()) {
                    case HELLO -> {
                        flushRunEvents(runEvents);
                        hello(message.getHello());
                    }
                    case SPEC_REQUEST -> {
                        flushRunEvents(runEvents);
                        requireHello();
                        specs(message.getSpecRequest().getTaskIdsList());
                    }
                    case FIRE_CLAIM -> {
                        requireHello();
                        claims.add(message.getFireClaim());
                    }
                    case COMMAND_ACK -> {
                        flushRunEvents(runEvents);
                        requireHello();
                        context.commands().recordAnswer(agentId, message.getCommandAck());
                    }
                    case RUN_STARTED, OUTPUT_CHUNK, RUN_FINISHED -> {
                        requireHello();
                        int size = message.getOutputChunk().getData().size();
                        if (size > MAX_CHUNK_BYTES) {
                            throw Status.INVALID_ARGUMENT.withDescription("output_chunk.data is " + size
                                    + " bytes; send at most " + MAX_CHUNK_BYTES + " bytes per chunk").asRuntimeException();
                        }
                        runEvents.add(message);
                        batchBytes += size;
                        if (batchBytes >= BATCH_BYTES) {
                            flushRunEvents(runEvents);
                        }
                    }
                    default -> throw Status.INVALID_ARGUMENT.withDescription("unknown agent message "
                            + message.getBodyCase() + "; this control plane speaks protocol version "
                            + ProtocolVersion.PROTOCOL_VERSION_1_VALUE).asRuntimeException();
                }
            } catch (StatusRuntimeException e) {
                fail(e.getStatus());
                return;
            } catch (RuntimeException e) {
                fail(GrpcErrors.toStatus(e));
                return;
            }
        }
        try {
            // Claims first: a fire waits for its answer, run events only for their acknowledgement.
            answerClaims(claims);
            flushRunEvents(runEvents);
        } catch (RuntimeException e) {
            fail(GrpcErrors.toStatus(e));
            return;
        }
        requestTaken();
    }

    /** Requests as many messages as were taken from the inbox since the last request. */
    private void requestTaken() {
        if (!closed && taken > 0 && agentId != null) {
            out.request(taken);
            taken = 0;
        }
    }

    private void hello(Hello hello) {
        if (agentId != null) {
            throw Status.INVALID_ARGUMENT.withDescription("hello was already sent on this stream").asRuntimeException();
        }
        if (!ZkLayout.isValidSegment(hello.getAgentId())) {
            throw Status.INVALID_ARGUMENT.withDescription("hello.agent_id '" + hello.getAgentId()
                    + "' must be 1-63 letters, digits, '.', '_' or '-'").asRuntimeException();
        }
        if (hello.getProtocolVersion() < ProtocolVersion.PROTOCOL_VERSION_1_VALUE) {
            throw Status.FAILED_PRECONDITION.withDescription("hello.protocol_version " + hello.getProtocolVersion()
                    + " is not supported; this control plane speaks protocol version 1").asRuntimeException();
        }
        if (!ZkLayout.isValidSegment(hello.getCluster()) || !context.clusters().exists(hello.getCluster())) {
            throw Status.FAILED_PRECONDITION.withDescription("hello.cluster '" + hello.getCluster()
                    + "' does not exist; create it on the control plane or fix the agent's cluster setting")
                    .asRuntimeException();
        }
        context.admission().admit(hello.getAgentId(), hello.getCluster(), hello.getJoinToken(), hello.getInfo(),
                remote);
        agentId = hello.getAgentId();
        cluster = hello.getCluster();
        context.agents().recordSeen(agentId, cluster, hello.getInfo(), context.replicaId());
        context.register(this);
        send(ControlMessage.newBuilder().setWelcome(Welcome.newBuilder()
                .setProtocolVersion(ProtocolVersion.PROTOCOL_VERSION_1_VALUE)
                .setReplicaId(context.replicaId())
                .setServerTime(Timestamps.of(context.clock().instant()))).build());
        log.info("agent {} of cluster {} connected", agentId, cluster);
        // A new stream: commands sent on an earlier one may never have arrived.
        sendCommands(true);
        out.request(WINDOW);
    }

    private void specs(List<String> taskIds) {
        SpecLookup lookup = context.tasks().specs(taskIds);
        TaskSpecs.Builder answer = TaskSpecs.newBuilder().addAllMissingTaskIds(lookup.missingTaskIds());
        for (TaskSpec spec : lookup.specs()) {
            if (spec.getCluster().equals(cluster)) {
                answer.addSpecs(spec);
            } else {
                answer.addMissingTaskIds(spec.getTaskId());
            }
        }
        send(ControlMessage.newBuilder().setTaskSpecs(answer).build());
    }

    private void answerClaims(List<FireClaim> claims) {
        if (claims.isEmpty()) {
            return;
        }
        for (ClaimAnswer answer : context.claims().claim(agentId, cluster, claims)) {
            send(ControlMessage.newBuilder().setClaimAnswer(answer).build());
        }
        claims.clear();
    }

    private void sendCommands(boolean redeliver) {
        for (ControlMessage command : context.commands().takeForDelivery(agentId, cluster, redeliver,
                context.replicaId())) {
            send(command);
        }
    }

    private void flushRunEvents(List<AgentMessage> runEvents) {
        batchBytes = 0;
        if (runEvents.isEmpty()) {
            return;
        }
        // The next messages travel and are parsed while this batch is stored; without this the
        // drain after the commit starts on the first of them and stores a batch of a few.
        requestTaken();
        context.ingestion().ingest(agentId, cluster, runEvents);
        long acknowledged = 0;
        for (AgentMessage event : runEvents) {
            acknowledged = Math.max(acknowledged, event.getJournalSequence());
        }
        runEvents.clear();
        if (acknowledged > 0) {
            send(ControlMessage.newBuilder().setAck(Ack.newBuilder().setJournalSequence(acknowledged)).build());
        }
    }

    private void requireHello() {
        if (agentId == null) {
            throw Status.INVALID_ARGUMENT.withDescription("the first message on the stream must be hello")
                    .asRuntimeException();
        }
    }

    private void send(ControlMessage message) {
        if (!closed) {
            out.onNext(message);
        }
    }

    private void fail(Status status) {
        if (closed) {
            return;
        }
        if (status.getCode() == Status.Code.UNAVAILABLE || status.getCode() == Status.Code.INTERNAL) {
            log.warn("closing stream of agent {}: {}", agentId, status);
        } else {
            log.info("closing stream of agent {}: {}", agentId, status);
        }
        out.onError(status.asRuntimeException());
        end(status.toString());
    }

    private void end(String reason) {
        if (closed) {
            return;
        }
        closed = true;
        inbox.clear();
        if (agentId != null) {
            context.unregister(this);
            log.info("agent {} disconnected: {}", agentId, reason);
            try {
                context.agents().recordDisconnected(agentId, context.replicaId());
            } catch (RuntimeException e) {
                // Only the "connected replica" shown by the API goes stale; the next hello rewrites it.
                log.warn("could not record that agent {} disconnected: {}", agentId, e.toString());
            }
        }
    }
}
