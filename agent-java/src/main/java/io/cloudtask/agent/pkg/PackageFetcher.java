package io.cloudtask.agent.pkg;

import com.google.protobuf.ByteString;
import java.io.IOException;

/** Downloads package bytes from the control plane. Implementations are thread-safe. */
public interface PackageFetcher {
    /** Receives the bytes in order. */
    @FunctionalInterface
    interface Sink {
        void write(ByteString data) throws IOException;
    }

    /**
     * Streams the package's bytes from {@code offset} to its end into {@code sink}, blocking until
     * done.
     *
     * @throws IOException when the package cannot be had (the message says why); what the sink
     *                     received before stays valid, so a retry may resume after it
     */
    void fetch(String sha256, long offset, Sink sink) throws IOException;
}
