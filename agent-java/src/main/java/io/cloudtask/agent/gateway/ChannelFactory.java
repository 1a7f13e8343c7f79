package io.cloudtask.agent.gateway;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/**
 * Opens a gRPC channel to one control-plane address. Production uses {@link #plaintext()}; tests
 * inject in-process channels. Implementations must be thread-safe.
 */
@FunctionalInterface
public interface ChannelFactory {
    ManagedChannel create(String address);

    /**
     * Plaintext channels with keepalive, so a silently dead connection (a half-open TCP session
     * after a network partition) is noticed within a minute rather than never.
     */
    static ChannelFactory plaintext() {
        return address -> Grpc.newChannelBuilder(address, InsecureChannelCredentials.create())
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                .build();
    }
}
