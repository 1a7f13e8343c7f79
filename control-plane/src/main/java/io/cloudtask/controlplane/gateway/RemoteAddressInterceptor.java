package io.cloudtask.controlplane.gateway;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import jakarta.inject.Singleton;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Makes the caller's address visible to {@link AgentGatewayService#connect}, which the stub API
 * hands only a response observer; admission matches it against a cluster's CIDR blocks.
 * Registered with the gRPC server as a bean. Stateless and thread-safe.
 */
@Singleton
class RemoteAddressInterceptor implements ServerInterceptor {
    /** The remote address of the call being started; null when the transport gives none (in-process). */
    static final Context.Key<InetAddress> REMOTE_ADDRESS = Context.key("cloudtask-remote-address");

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        InetAddress address = remote instanceof InetSocketAddress socket ? socket.getAddress() : null;
        return Contexts.interceptCall(Context.current().withValue(REMOTE_ADDRESS, address), call, headers, next);
    }
}
