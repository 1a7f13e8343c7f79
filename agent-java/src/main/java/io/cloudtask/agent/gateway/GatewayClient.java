package io.cloudtask.agent.gateway;

import io.cloudtask.agent.outbox.RunEventOutbox;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.CommandAck;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.ProtocolVersion;
import io.cloudtask.proto.v1.SpecRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's end of {@code AgentGateway.Connect}: one long-lived bidirectional stream to a
 * control-plane replica. It sends {@code Hello}, waits for {@code Welcome}, then sends the outbox's
 * run events in journal order while the stream is ready, trims the outbox on {@code Ack}, and hands
 * {@code TaskSpecs} to the {@link GatewayListener}. When the stream breaks it reconnects to the next
 * address with exponential backoff and full jitter, and replays every unacknowledged event from
 * the oldest (the control plane ingests idempotently). That is the normal path, not an error path.
 *
 * <p>Threading: all stream state lives on one single-threaded executor ({@code cloudtask-gateway}),
 * which is the stream's serial writer (a {@code StreamObserver} is not thread-safe) and also runs
 * the reconnect timer. gRPC callbacks hop onto it. Inbound flow control is manual: one message is
 * requested at a time, after the previous one was handled. Public methods are thread-safe.
 */
public final class GatewayClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GatewayClient.class);
    /** Bounds of one read from the outbox: the events in flight to the stream live on the heap. */
    private static final int SEND_BATCH = 128;
    private static final long SEND_BATCH_BYTES = 256 * 1024;

    /** Identity and connection settings of the stream. */
    public record Settings(String agentId, String cluster, String joinToken, List<String> addresses,
                           Backoff backoff, Duration flushTimeout) {
        public Settings {
            Objects.requireNonNull(agentId, "agentId");
            Objects.requireNonNull(cluster, "cluster");
            Objects.requireNonNull(joinToken, "joinToken");
            addresses = List.copyOf(addresses);
            if (addresses.isEmpty()) {
                throw new IllegalArgumentException("at least one control-plane address is needed");
            }
            Objects.requireNonNull(backoff, "backoff");
            Objects.requireNonNull(flushTimeout, "flushTimeout");
        }
    }

    private final Settings settings;
    private final Supplier<AgentInfo> agentInfo;
    private final RunEventOutbox outbox;
    private final GatewayListener listener;
    private final ChannelFactory channelFactory;
    private final RandomGenerator random;
    private final ScheduledExecutorService executor;
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final ExecutorService acknowledger;
    private final AtomicLong pendingAck = new AtomicLong();
    private final AtomicBoolean ackScheduled = new AtomicBoolean();
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile boolean connected;
    private volatile long lastSent;

    // Confined to the executor thread.
    private final Map<String, ManagedChannel> channels = new HashMap<>();
    private Session session;
    private long sessionCount;
    private int failures;
    private int nextAddress;
    private ScheduledFuture<?> reconnect;
    private boolean closed;

    public GatewayClient(Settings settings, Supplier<AgentInfo> agentInfo, RunEventOutbox outbox,
                         GatewayListener listener, ChannelFactory channelFactory, RandomGenerator random) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.agentInfo = Objects.requireNonNull(agentInfo, "agentInfo");
        this.outbox = Objects.requireNonNull(outbox, "outbox");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.channelFactory = Objects.requireNonNull(channelFactory, "channelFactory");
        this.random = Objects.requireNonNull(random, "random");
        this.executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "cloudtask-gateway");
            thread.setDaemon(true);
            return thread;
        });
        this.acknowledger = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "cloudtask-acks");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Opens the first stream. Call once. */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("gateway client already started");
        }
        outbox.addAppendListener(this::scheduleDrain);
        onExecutor(this::connect);
    }

    /** Whether a stream is open and welcomed. */
    public boolean isConnected() {
        return connected;
    }

    /** Journal sequence of the last run event handed to a stream (0 before any); for monitoring and tests. */
    public long lastSentJournalSequence() {
        return lastSent;
    }

    /**
     * Asks the control plane for the current specs of these tasks. Dropped when no stream is
     * welcomed: every Welcome makes the agent compute and send its requests again.
     */
    public void requestSpecs(Collection<String> taskIds) {
        if (taskIds.isEmpty()) {
            return;
        }
        List<String> ids = List.copyOf(taskIds);
        sendOnWelcomedStream(AgentMessage.newBuilder().setSpecRequest(SpecRequest.newBuilder().addAllTaskIds(ids)).build(),
                () -> log.debug("not requesting specs of {} task(s): no stream yet", ids.size()));
    }

    /**
     * Sends a fire claim. Dropped when no stream is welcomed: the claimer sends its pending claims
     * again after every Welcome.
     */
    public void sendFireClaim(FireClaim claim) {
        sendOnWelcomedStream(AgentMessage.newBuilder().setFireClaim(claim).build(), () -> { });
    }

    /**
     * Answers a command. Dropped when no stream is welcomed: the control plane delivers an
     * unanswered command again on the next stream, and the agent answers it again from its journal.
     */
    public void sendCommandAck(CommandAck ack) {
        sendOnWelcomedStream(AgentMessage.newBuilder().setCommandAck(ack).build(), () -> log.info(
                "not answering command {} now: no stream; it is answered when delivered again", ack.getCommandId()));
    }

    /** Sends a message that is not a run event on the current stream, if one is welcomed. */
    private void sendOnWelcomedStream(AgentMessage message, Runnable whenDropped) {
        onExecutor(() -> {
            Session s = session;
            if (s == null || !s.welcomed) {
                whenDropped.run();
                return;
            }
            s.requests.onNext(message);
        });
    }

    /**
     * Waits up to the flush timeout for unacknowledged events to be acknowledged (only if a stream
     * is up), then half-closes the stream, stops reconnecting and shuts the channels down.
     */
    @Override
    public void close() {
        if (connected && outbox.hasUnacknowledged()) {
            try {
                if (!outbox.awaitAcknowledged(settings.flushTimeout())) {
                    log.info("closing with run events after journal sequence {} unacknowledged; they stay in the spool"
                            + " and are sent after the next start", outbox.acknowledgedSequence());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<ManagedChannel> toClose = new ArrayList<>();
        try {
            Future<?> done = executor.submit(() -> {
                closed = true;
                connected = false;
                if (reconnect != null) {
                    reconnect.cancel(false);
                }
                if (session != null) {
                    session.requests.onCompleted();
                    session = null;
                }
                toClose.addAll(channels.values());
                channels.clear();
            });
            done.get(5, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("gateway client already closed");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("gateway client did not close cleanly: {}", e.toString());
        }
        for (ManagedChannel channel : toClose) {
            channel.shutdown();
        }
        for (ManagedChannel channel : toClose) {
            try {
                if (!channel.awaitTermination(1, TimeUnit.SECONDS)) {
                    channel.shutdownNow();
                }
            } catch (InterruptedException e) {
                channel.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
        executor.shutdownNow();
        acknowledger.shutdown();
    }

    private void connect() {
        reconnect = null;
        if (closed) {
            return;
        }
        String address = settings.addresses().get(nextAddress);
        nextAddress = (nextAddress + 1) % settings.addresses().size();
        ManagedChannel channel = channels.computeIfAbsent(address, channelFactory::create);
        Session s = new Session(++sessionCount, address);
        session = s;
        log.debug("opening stream {} to control plane {}", s.id, address);
        try {
            // beforeStart() runs inside this call, so s.requests is set when it returns.
            AgentGatewayGrpc.newStub(channel).connect(s);
            s.requests.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder()
                    .setAgentId(settings.agentId())
                    .setCluster(settings.cluster())
                    .setJoinToken(settings.joinToken())
                    .setProtocolVersion(ProtocolVersion.PROTOCOL_VERSION_1_VALUE)
                    .setInfo(agentInfo.get())).build());
        } catch (RuntimeException e) {
            // A stream that cannot even open is one more failed attempt: keep the reconnect loop alive.
            if (s.requests != null) {
                s.requests.cancel("could not send hello", e);
            }
            ended(s, Status.UNAVAILABLE.withDescription("cannot open a stream: " + e).withCause(e));
        }
    }

    private void handle(Session s, ControlMessage message) {
        if (s != session) {
            return;
        }
        switch (message.getBodyCase()) {
            case WELCOME -> {
                s.welcomed = true;
                s.cursor = 0;
                failures = 0;
                connected = true;
                log.info("connected to control plane {} (replica '{}'); run events after journal sequence {} up to {}"
                        + " to send", s.address, message.getWelcome().getReplicaId(), outbox.acknowledgedSequence(),
                        outbox.lastSequence());
                listener.onWelcome(message.getWelcome());
                drain(s);
            }
            case TASK_SPECS -> listener.onTaskSpecs(message.getTaskSpecs());
            case RUN_NOW -> listener.onRunNow(message.getRunNow());
            case KILL_RUN -> listener.onKillRun(message.getKillRun());
            case CLAIM_ANSWER -> listener.onClaimAnswer(message.getClaimAnswer());
            case ACK -> acknowledgeLater(message.getAck().getJournalSequence());
            case BODY_NOT_SET -> log.debug("ignoring a control message this agent does not understand");
        }
        // Flow control: ask for the next message only once this one is handled.
        s.requests.request(1);
    }

    private void ended(Session s, Status status) {
        if (s != session) {
            return;
        }
        session = null;
        boolean wasConnected = s.welcomed;
        connected = false;
        if (closed) {
            return;
        }
        failures++;
        Duration delay;
        String reason = status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
        if (!RetryableStatus.isRetryable(status.getCode())) {
            delay = settings.backoff().max();
            if (status.getCode() == Status.Code.ABORTED) {
                log.error("control plane {} replaced this stream with a newer one of agent id '{}' ({}): is a second"
                        + " agent running with this id? Retrying in {} ms", s.address, settings.agentId(), reason,
                        delay.toMillis());
            } else {
                log.error("control plane {} refused the stream ({}); retrying in {} ms", s.address, reason, delay.toMillis());
            }
        } else {
            delay = settings.backoff().delay(failures, random);
            if (wasConnected || failures == 1) {
                log.warn("stream to control plane {} ended ({}); reconnecting in {} ms", s.address, reason, delay.toMillis());
            } else if (Integer.bitCount(failures) == 1) {
                // Powers of two only: an outage of hours yields a handful of lines, not thousands.
                log.info("control plane {} unreachable ({}); {} attempts failed, retrying in {} ms",
                        s.address, reason, failures, delay.toMillis());
            } else {
                log.debug("control plane {} unreachable ({}); attempt {} failed", s.address, reason, failures);
            }
        }
        reconnect = executor.schedule(this::connect, delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Sends unsent events in journal order while the stream can take them. */
    private void drain(Session s) {
        if (s != session || !s.welcomed) {
            return;
        }
        while (s.requests.isReady()) {
            if (s.pending.isEmpty()) {
                s.pending.addAll(outbox.read(s.cursor, SEND_BATCH, SEND_BATCH_BYTES));
                if (s.pending.isEmpty()) {
                    return;
                }
            }
            // Held back events stay in s.pending until onReady calls drain again: no second read.
            AgentMessage event = s.pending.poll();
            s.requests.onNext(event);
            s.cursor = event.getJournalSequence();
            lastSent = s.cursor;
        }
    }

    /**
     * Applies acknowledgements on their own thread: recording one forces a checkpoint to disk
     * (tens of milliseconds on a busy disk), which must not stall this stream's sending. Acks that
     * arrive meanwhile coalesce into the newest.
     */
    private void acknowledgeLater(long journalSequence) {
        pendingAck.accumulateAndGet(journalSequence, Math::max);
        if (ackScheduled.compareAndSet(false, true)) {
            try {
                acknowledger.execute(this::applyAcknowledgements);
            } catch (RejectedExecutionException e) {
                // Closed: the spool keeps the events, which are sent again after the next start.
                ackScheduled.set(false);
            }
        }
    }

    private void applyAcknowledgements() {
        // Cleared before reading, so an ack that arrives from here on schedules another pass.
        ackScheduled.set(false);
        try {
            outbox.acknowledge(pendingAck.get());
        } catch (RuntimeException e) {
            log.warn("could not apply acknowledgement {}: {}", pendingAck.get(), e.toString());
        }
    }

    private void scheduleDrain() {
        if (drainScheduled.compareAndSet(false, true)) {
            onExecutor(() -> {
                drainScheduled.set(false);
                if (session != null) {
                    drain(session);
                }
            });
        }
    }

    private void onExecutor(Runnable task) {
        try {
            executor.execute(() -> {
                try {
                    task.run();
                } catch (Throwable t) {
                    log.error("gateway task failed", t);
                }
            });
        } catch (RejectedExecutionException e) {
            // Only after close(): nothing is left to send to or receive from.
            log.debug("gateway closed; dropping a task");
        }
    }

    /** One stream attempt. Fields are touched only on the executor thread. */
    private final class Session implements ClientResponseObserver<AgentMessage, ControlMessage> {
        final long id;
        final String address;
        ClientCallStreamObserver<AgentMessage> requests;
        boolean welcomed;
        /** Journal sequence of the last event sent on this stream. */
        long cursor;
        /** Events read from the outbox after the cursor and not sent yet (one bounded batch at most). */
        final ArrayDeque<AgentMessage> pending = new ArrayDeque<>();

        Session(long id, String address) {
            this.id = id;
            this.address = address;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<AgentMessage> requestStream) {
            this.requests = requestStream;
            requestStream.disableAutoRequestWithInitial(1);
            requestStream.setOnReadyHandler(() -> onExecutor(() -> drain(this)));
        }

        @Override
        public void onNext(ControlMessage message) {
            onExecutor(() -> handle(this, message));
        }

        @Override
        public void onError(Throwable t) {
            Status status = Status.fromThrowable(t);
            onExecutor(() -> ended(this, status));
        }

        @Override
        public void onCompleted() {
            onExecutor(() -> ended(this, Status.UNAVAILABLE.withDescription("the control plane closed the stream")));
        }
    }
}
