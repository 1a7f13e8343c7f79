package io.cloudtask.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Free loopback ports for child processes. They are taken from below the kernel's ephemeral range
 * (32768 and up on Linux), where outgoing connections of other processes cannot grab them between
 * the choice and the bind, and never handed out twice in one JVM. Thread-safe.
 */
final class Ports {
    private static final int LOW = 20_000;
    private static final int HIGH = 32_000;
    private static final Set<Integer> handedOut = new HashSet<>();

    private Ports() {}

    static synchronized int free() {
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOW, HIGH);
            if (handedOut.contains(port)) {
                continue;
            }
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(false);
                socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                handedOut.add(port);
                return port;
            } catch (IOException taken) {
                // In use: try another.
            }
        }
        throw new IllegalStateException("no free loopback port between " + LOW + " and " + HIGH);
    }
}
