package io.cloudtask.it;

import io.cloudtask.controlplane.testing.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;

/**
 * A whole CloudTask installation, every part a separate process: a ZooKeeper server, a
 * control plane (against a real PostgreSQL database) and agents. Stops everything on close, in
 * reverse start order.
 */
final class CloudTaskSystem implements AutoCloseable {
    /** Scales every wait in the integration tests (slow machines: raise it). */
    static final double TIMEOUT_SCALE = Double.parseDouble(System.getProperty("cloudtask.it.timeoutScale", "1"));

    private final List<ManagedProcess> processes = new ArrayList<>();
    private final Path workDir;
    private String zookeeperConnect;
    private int httpPort;
    private int grpcPort;
    private ManagedProcess controlPlane;
    private Map<String, String> controlPlaneEnv;
    private int controlPlaneStarts;
    private final List<Integer> extraGrpcPorts = new ArrayList<>();
    private final Map<Integer, ManagedProcess> zookeeperServers = new java.util.LinkedHashMap<>();

    CloudTaskSystem(Path workDir) {
        this.workDir = workDir;
    }

    static Duration scaled(Duration duration) {
        return Duration.ofMillis((long) (duration.toMillis() * TIMEOUT_SCALE));
    }

    CloudTaskSystem startZooKeeper() throws Exception {
        int port = Ports.free();
        Path data = Files.createDirectories(workDir.resolve("zookeeper"));
        // ZooKeeper expires sessions in buckets of tickTime (default 3 s): a dead agent's node would
        // go between 6 and 9 s after its crash. A 500 ms tick bounds that to session timeout + 0.5 s.
        Path config = workDir.resolve("zoo.cfg");
        Files.writeString(config, "tickTime=500\ndataDir=" + data + "\nclientPort=" + port
                + "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n");
        ManagedProcess zookeeper = ManagedProcess.startJava("zookeeper", List.of(
                "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                "org.apache.zookeeper.server.ZooKeeperServerMain", config.toString()), Map.of());
        processes.add(zookeeper);
        zookeeperConnect = "127.0.0.1:" + port;
        Awaitility.await("ZooKeeper accepting connections").atMost(scaled(Duration.ofSeconds(30)))
                .until(() -> canConnect(port));
        return this;
    }

    /** Starts the control plane; after the first time, again on the same database and ports. */
    /**
     * Starts a ZooKeeper ensemble of {@code size} servers (QuorumPeerMain processes) on loopback
     * and waits until it has a leader.
     */
    CloudTaskSystem startZooKeeperEnsemble(int size) throws Exception {
        int[] clientPorts = new int[size];
        StringBuilder servers = new StringBuilder();
        for (int i = 1; i <= size; i++) {
            clientPorts[i - 1] = Ports.free();
            servers.append("server.").append(i).append("=127.0.0.1:").append(Ports.free()).append(':')
                    .append(Ports.free()).append('\n');
        }
        StringBuilder connect = new StringBuilder();
        for (int i = 1; i <= size; i++) {
            Path data = Files.createDirectories(workDir.resolve("zookeeper-" + i));
            Files.writeString(data.resolve("myid"), Integer.toString(i));
            Path config = workDir.resolve("zoo-" + i + ".cfg");
            Files.writeString(config, "tickTime=500\ninitLimit=20\nsyncLimit=10\n"
                    + "dataDir=" + data + "\nclientPort=" + clientPorts[i - 1] + "\nclientPortAddress=127.0.0.1\n"
                    + "admin.enableServer=false\n4lw.commands.whitelist=srvr\n" + servers);
            ManagedProcess server = ManagedProcess.startJava("zookeeper-" + i, List.of("-Xmx256m",
                    "-cp", System.getProperty("java.class.path"), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    config.toString()), Map.of());
            processes.add(server);
            zookeeperServers.put(clientPorts[i - 1], server);
            connect.append(i > 1 ? "," : "").append("127.0.0.1:").append(clientPorts[i - 1]);
        }
        zookeeperConnect = connect.toString();
        // Every server must serve (one leader, the rest followers), or a later fault test would
        // run on a smaller ensemble than it thinks.
        Awaitility.await("every ZooKeeper server serving").atMost(scaled(Duration.ofSeconds(60)))
                .pollInterval(Duration.ofMillis(250)).until(() -> {
                    for (Map.Entry<Integer, ManagedProcess> server : zookeeperServers.entrySet()) {
                        if (!server.getValue().isAlive()) {
                            throw new AssertionError("a ZooKeeper server exited:\n" + server.getValue().logTail(20));
                        }
                    }
                    return zookeeperServers.keySet().stream().map(CloudTaskSystem::zookeeperMode)
                            .allMatch(mode -> "leader".equals(mode) || "follower".equals(mode))
                            && zookeeperLeader() != null;
                });
        return this;
    }

    /** The ensemble server that is currently the leader, or null. */
    ManagedProcess zookeeperLeader() {
        for (Map.Entry<Integer, ManagedProcess> server : zookeeperServers.entrySet()) {
            if (server.getValue().isAlive() && "leader".equals(zookeeperMode(server.getKey()))) {
                return server.getValue();
            }
        }
        return null;
    }

    private static String zookeeperMode(int port) {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            socket.setSoTimeout(2000);
            socket.getOutputStream().write("srvr".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
            for (String line : answer.split("\n")) {
                if (line.startsWith("Mode: ")) {
                    return line.substring("Mode: ".length()).trim();
                }
            }
            return null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    CloudTaskSystem startControlPlane() {
        if (controlPlaneEnv == null) {
            controlPlaneEnv = controlPlaneEnvironment();
        }
        controlPlaneStarts++;
        controlPlane = ManagedProcess.startJava("control-plane-" + controlPlaneStarts, List.of("-Xmx512m", "-jar",
                System.getProperty("cloudtask.it.controlPlaneJar")), controlPlaneEnv);
        processes.add(controlPlane);
        Api api = api();
        Awaitility.await("control plane healthy").atMost(scaled(Duration.ofSeconds(60)))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    if (!controlPlane.isAlive()) {
                        throw new AssertionError("control plane exited:\n" + controlPlane.logTail(40));
                    }
                    return api.isHealthy();
                });
        return this;
    }

    private Map<String, String> controlPlaneEnvironment() {
        TestDatabase.Coordinates database = TestDatabase.create();
        httpPort = Ports.free();
        grpcPort = Ports.free();
        Map<String, String> env = new HashMap<>();
        env.put("CLOUDTASK_DB_URL", database.url());
        env.put("CLOUDTASK_DB_USER", database.user());
        env.put("CLOUDTASK_DB_PASSWORD", database.password());
        env.put("CLOUDTASK_ZK_CONNECT", zookeeperConnect);
        env.put("CLOUDTASK_HTTP_HOST", "127.0.0.1");
        env.put("CLOUDTASK_HTTP_PORT", Integer.toString(httpPort));
        env.put("CLOUDTASK_GRPC_PORT", Integer.toString(grpcPort));
        env.put("CLOUDTASK_REPLICA_ID", "replica-1");
        return env;
    }

    /**
     * Starts one more control-plane replica on the same database and ZooKeeper, with its own
     * ports; returns its REST API. Agents started afterwards know every replica's address.
     */
    ReplicaHandle startExtraReplica(String replicaId) {
        Map<String, String> env = new HashMap<>(controlPlaneEnv);
        int http = Ports.free();
        int grpc = Ports.free();
        env.put("CLOUDTASK_HTTP_PORT", Integer.toString(http));
        env.put("CLOUDTASK_GRPC_PORT", Integer.toString(grpc));
        env.put("CLOUDTASK_REPLICA_ID", replicaId);
        ManagedProcess replica = ManagedProcess.startJava("control-plane-" + replicaId, List.of("-Xmx512m", "-jar",
                System.getProperty("cloudtask.it.controlPlaneJar")), env);
        processes.add(replica);
        extraGrpcPorts.add(grpc);
        Api api = new Api(java.net.URI.create("http://127.0.0.1:" + http));
        Awaitility.await("replica " + replicaId + " healthy").atMost(scaled(Duration.ofSeconds(60)))
                .pollInterval(Duration.ofMillis(250)).until(api::isHealthy);
        return new ReplicaHandle(replica, api);
    }

    /** An extra control-plane replica. */
    record ReplicaHandle(ManagedProcess process, Api api) {}

    ManagedProcess startAgent(String agentId) throws Exception {
        Path agentWork = Files.createDirectories(workDir.resolve("agent-" + agentId));
        Map<String, String> env = new HashMap<>();
        env.put("CLOUDTASK_AGENT_ID", agentId);
        env.put("CLOUDTASK_AGENT_CLUSTER", "default");
        StringBuilder addresses = new StringBuilder("127.0.0.1:" + grpcPort);
        extraGrpcPorts.forEach(port -> addresses.append(",127.0.0.1:").append(port));
        env.put("CLOUDTASK_AGENT_CONTROL_PLANE", addresses.toString());
        env.put("CLOUDTASK_AGENT_ZOOKEEPER", zookeeperConnect);
        env.put("CLOUDTASK_AGENT_WORK_DIR", agentWork.toString());
        ManagedProcess agent = ManagedProcess.startAgentScript("agent-" + agentId,
                Path.of(System.getProperty("cloudtask.it.agentJar")), env);
        processes.add(agent);
        return agent;
    }

    int grpcPort() {
        return grpcPort;
    }

    Api api() {
        return new Api(java.net.URI.create("http://127.0.0.1:" + httpPort));
    }

    String zookeeperConnect() {
        return zookeeperConnect;
    }

    ManagedProcess controlPlane() {
        return controlPlane;
    }

    private static boolean canConnect(int port) {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).close();
        }
    }
}
