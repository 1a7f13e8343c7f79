package io.cloudtask.agent.pkg;

import io.cloudtask.agent.gateway.ChannelFactory;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.FetchPackageRequest;
import io.cloudtask.proto.v1.PackageChunk;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Fetches packages with {@code AgentGateway.FetchPackage}, trying the control-plane addresses in
 * turn: a replica that is unavailable or breaks off is followed by the next, resuming at the last
 * byte received. Refusals (PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION) end
 * the fetch at once, since another replica would say the same. Thread-safe; channels are opened on
 * first use and closed by {@link #close()}.
 */
public final class GrpcPackageFetcher implements PackageFetcher, AutoCloseable {
    /** Identity presented on every call, as in Hello. */
    public record Identity(String agentId, String cluster, String joinToken) {
        public Identity {
            Objects.requireNonNull(agentId, "agentId");
            Objects.requireNonNull(cluster, "cluster");
            Objects.requireNonNull(joinToken, "joinToken");
        }

        @Override
        public String toString() {
            return "Identity[agentId=" + agentId + ", cluster=" + cluster + "]";
        }
    }

    private final Identity identity;
    private final List<String> addresses;
    private final ChannelFactory channelFactory;
    private final Duration callTimeout;
    private final Map<String, ManagedChannel> channels = new HashMap<>();
    private boolean closed;

    /** @param callTimeout the longest one FetchPackage call may take (a whole package at the slowest link) */
    public GrpcPackageFetcher(Identity identity, List<String> addresses, ChannelFactory channelFactory,
            Duration callTimeout) {
        this.identity = Objects.requireNonNull(identity, "identity");
        this.addresses = List.copyOf(addresses);
        if (this.addresses.isEmpty()) {
            throw new IllegalArgumentException("at least one control-plane address is needed");
        }
        this.channelFactory = Objects.requireNonNull(channelFactory, "channelFactory");
        this.callTimeout = Objects.requireNonNull(callTimeout, "callTimeout");
    }

    @Override
    public void fetch(String sha256, long offset, Sink sink) throws IOException {
        long position = offset;
        StatusRuntimeException last = null;
        for (String address : addresses) {
            FetchPackageRequest request = FetchPackageRequest.newBuilder()
                    .setAgentId(identity.agentId())
                    .setCluster(identity.cluster())
                    .setJoinToken(identity.joinToken())
                    .setSha256(sha256)
                    .setOffset(position)
                    .build();
            // Cancelled on the way out, so a sink that gives up mid-stream ends the call, not just the loop.
            Context.CancellableContext call = Context.current().withCancellation();
            Context previous = call.attach();
            try {
                Iterator<PackageChunk> chunks = AgentGatewayGrpc.newBlockingStub(channel(address))
                        .withDeadlineAfter(callTimeout.toNanos(), TimeUnit.NANOSECONDS)
                        .fetchPackage(request);
                while (chunks.hasNext()) {
                    PackageChunk chunk = chunks.next();
                    if (chunk.getOffset() != position) {
                        throw new IOException("control plane " + address + " sent package " + sha256
                                + " bytes from offset " + chunk.getOffset() + " where " + position + " was expected");
                    }
                    sink.write(chunk.getData());
                    position += chunk.getData().size();
                }
                return;
            } catch (StatusRuntimeException e) {
                last = e;
                if (isRefusal(e.getStatus().getCode())) {
                    throw new IOException("control plane " + address + " refused package " + sha256 + ": "
                            + e.getStatus().getCode() + " " + e.getStatus().getDescription(), e);
                }
            } finally {
                call.detach(previous);
                call.cancel(null);
            }
        }
        throw new IOException("no control plane delivered package " + sha256 + " (last: "
                + last.getStatus().getCode() + " " + last.getStatus().getDescription() + ")", last);
    }

    private static boolean isRefusal(Status.Code code) {
        return code == Status.Code.NOT_FOUND || code == Status.Code.PERMISSION_DENIED
                || code == Status.Code.INVALID_ARGUMENT || code == Status.Code.FAILED_PRECONDITION;
    }

    private synchronized ManagedChannel channel(String address) throws IOException {
        if (closed) {
            throw new IOException("the agent is stopping; packages are no longer fetched");
        }
        return channels.computeIfAbsent(address, channelFactory::create);
    }

    @Override
    public synchronized void close() {
        closed = true;
        channels.values().forEach(ManagedChannel::shutdownNow);
        channels.clear();
    }
}
