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

    CloudTaskSystem(Path workDir) {
        this.workDir = workDir;
    }

    static Duration scaled(Duration duration) {
        return Duration.ofMillis((long) (duration.toMillis() * TIMEOUT_SCALE));
    }

    CloudTaskSystem startZooKeeper() throws Exception {
        int port = Ports.free();
        Path data = Files.createDirectories(workDir.resolve("zookeeper"));
        ManagedProcess zookeeper = ManagedProcess.startJava("zookeeper", List.of(
                "-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-cp", System.getProperty("java.class.path"),
                "org.apache.zookeeper.server.ZooKeeperServerMain", Integer.toString(port), data.toString()), Map.of());
        processes.add(zookeeper);
        zookeeperConnect = "127.0.0.1:" + port;
        Awaitility.await("ZooKeeper accepting connections").atMost(scaled(Duration.ofSeconds(30)))
                .until(() -> canConnect(port));
        return this;
    }

    /** Starts the control plane; after the first time, again on the same database and ports. */
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
        ManagedProcess agent = ManagedProcess.startJava("agent-" + agentId, List.of("-Xmx128m", "-jar",
                System.getProperty("cloudtask.it.agentJar")), env);
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
