package io.cloudtask.controlplane.standalone;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/** Standalone mode's settings, from environment variables (see docs/configuration.md). */
record StandaloneSettings(Path dataDir, int databasePort, int zookeeperPort, String httpHost, int httpPort,
        int grpcPort, Optional<Path> agentJar) {

    static StandaloneSettings fromEnvironment(Map<String, String> env) {
        return new StandaloneSettings(
                Path.of(env.getOrDefault("CLOUDTASK_DATA_DIR", "data")),
                port(env, "CLOUDTASK_STANDALONE_DB_PORT", 15432),
                port(env, "CLOUDTASK_STANDALONE_ZK_PORT", 12181),
                env.getOrDefault("CLOUDTASK_HTTP_HOST", "127.0.0.1"),
                port(env, "CLOUDTASK_HTTP_PORT", 8080),
                port(env, "CLOUDTASK_GRPC_PORT", 9090),
                Optional.ofNullable(env.get("CLOUDTASK_STANDALONE_AGENT_JAR")).map(Path::of));
    }

    /** Fails fast, naming the setting, when a port is taken (instead of a timeout later). */
    void requireFreePorts() {
        requireFree(databasePort, "CLOUDTASK_STANDALONE_DB_PORT");
        requireFree(zookeeperPort, "CLOUDTASK_STANDALONE_ZK_PORT");
        requireFree(httpPort, "CLOUDTASK_HTTP_PORT");
        requireFree(grpcPort, "CLOUDTASK_GRPC_PORT");
    }

    private static void requireFree(int port, String key) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        } catch (IOException e) {
            throw new IllegalStateException("port " + port + " (" + key + ") is already in use: stop what listens"
                    + " there (perhaps another CloudTask) or set " + key + " to a free port");
        }
    }

    private static int port(Map<String, String> env, String key, int defaultPort) {
        String value = env.get(key);
        if (value == null || value.isBlank()) {
            return defaultPort;
        }
        try {
            int port = Integer.parseInt(value.trim());
            if (port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            return port;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + "='" + value + "' is not a TCP port (1-65535)");
        }
    }
}
