package io.cloudtask.controlplane.standalone;

import io.cloudtask.controlplane.Application;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.zookeeper.server.embedded.ExitHandler;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A complete single-host installation for trying CloudTask: an embedded PostgreSQL and an
 * embedded ZooKeeper server (both keeping their data under the data directory across restarts),
 * the control plane, and one local agent as a child process. Production runs the same control
 * plane and agent against external PostgreSQL and ZooKeeper.
 *
 * <p>Shutdown order (a JVM shutdown hook): agent, control plane, ZooKeeper, PostgreSQL.
 */
public final class StandaloneMain {
    private static final Logger log = LoggerFactory.getLogger(StandaloneMain.class);

    private StandaloneMain() {}

    public static void main(String[] args) throws Exception {
        StandaloneSettings settings = StandaloneSettings.fromEnvironment(System.getenv());
        Path agentJar = settings.agentJar().orElseGet(StandaloneMain::defaultAgentJar);
        if (!Files.isRegularFile(agentJar)) {
            throw new IllegalStateException("agent jar " + agentJar.toAbsolutePath() + " not found: build it with"
                    + " './mvnw -DskipTests package' or set CLOUDTASK_STANDALONE_AGENT_JAR");
        }
        settings.requireFreePorts();
        Files.createDirectories(settings.dataDir());

        EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                .setDataDirectory(settings.dataDir().resolve("postgres"))
                .setCleanDataDirectory(false)
                .setPort(settings.databasePort())
                .setServerConfig("listen_addresses", "127.0.0.1")
                // The embedded binaries default to fsync and synchronous_commit off (fast tests);
                // standalone mode keeps an operator's tasks and runs, so every commit is flushed.
                .setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on")
                // Our shutdown hook stops PostgreSQL last, after the control plane.
                .setRegisterShutdownHook(false)
                .start();
        String databaseUrl = ensureDatabase(postgres, settings.databasePort());

        ZooKeeperServerEmbedded zookeeper = startZooKeeper(settings);

        Map<String, Object> properties = new HashMap<>();
        properties.put("datasources.default.url", databaseUrl);
        properties.put("datasources.default.username", "postgres");
        properties.put("datasources.default.password", "postgres");
        properties.put("cloudtask.zookeeper.connect-string", zookeeper.getConnectionString());
        properties.put("micronaut.server.host", settings.httpHost());
        properties.put("micronaut.server.port", settings.httpPort());
        properties.put("grpc.server.port", settings.grpcPort());
        // A plain context (not Micronaut.run): Micronaut's own shutdown hook would race ours and
        // deadlock; ours stops the parts in order.
        ApplicationContext context = ApplicationContext.builder(Application.class).args(args).properties(properties).start();
        context.getBean(EmbeddedServer.class).start();

        Process agent = startAgent(agentJar, settings, zookeeper.getConnectionString());

        AtomicBoolean stopping = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.set(true);
            stopAgent(agent);
            context.close();
            zookeeper.close();
            try {
                postgres.close();
            } catch (IOException e) {
                log.warn("embedded PostgreSQL did not stop cleanly: {}", e.toString());
            }
        }, "standalone-shutdown"));

        String api = "http://" + settings.httpHost() + ":" + settings.httpPort() + "/api/v1";
        log.info("""

                CloudTask standalone is running.
                  REST API:        {}   (try: curl {}/tasks)
                  Agent gateway:   {}:{} (gRPC)
                  ZooKeeper:       {}
                  PostgreSQL:      {}
                  Data directory:  {}
                  Local agent:     pid {} (work directory {})
                No sign-in is needed yet: authentication arrives with the users-and-permissions work.
                Stop with Ctrl-C.""",
                api, api, settings.httpHost(), settings.grpcPort(), zookeeper.getConnectionString(), databaseUrl,
                settings.dataDir().toAbsolutePath(), agent.pid(), settings.dataDir().resolve("agent").toAbsolutePath());
        agent.onExit().thenAccept(exited -> {
            if (!stopping.get()) {
                log.warn("the local agent exited with code {}; see its output above", exited.exitValue());
            }
        });
    }

    private static String ensureDatabase(EmbeddedPostgres postgres, int port) throws Exception {
        try (Connection connection = postgres.getPostgresDatabase().getConnection();
                PreparedStatement exists = connection.prepareStatement("SELECT 1 FROM pg_database WHERE datname = 'cloudtask'")) {
            try (ResultSet rows = exists.executeQuery()) {
                if (!rows.next()) {
                    try (Statement create = connection.createStatement()) {
                        create.execute("CREATE DATABASE cloudtask");
                    }
                }
            }
        }
        return "jdbc:postgresql://127.0.0.1:" + port + "/cloudtask";
    }

    private static ZooKeeperServerEmbedded startZooKeeper(StandaloneSettings settings) throws Exception {
        Path base = settings.dataDir().resolve("zookeeper");
        Files.createDirectories(base.resolve("data"));
        Properties config = new Properties();
        config.setProperty("clientPort", Integer.toString(settings.zookeeperPort()));
        config.setProperty("clientPortAddress", "127.0.0.1");
        config.setProperty("dataDir", base.resolve("data").toAbsolutePath().toString());
        // Sessions expire in buckets of tickTime: with 500 ms a crashed agent's tasks move at most
        // half a second after its session timeout, not up to two seconds.
        config.setProperty("tickTime", "500");
        // The AdminServer would take port 8080, the REST API's default.
        config.setProperty("admin.enableServer", "false");
        ZooKeeperServerEmbedded server = ZooKeeperServerEmbedded.builder()
                .baseDir(base)
                .configuration(config)
                .exitHandler(ExitHandler.LOG_ONLY)
                .build();
        server.start(TimeUnit.SECONDS.toMillis(30));
        return server;
    }

    /**
     * Starts the local agent through {@code agent-java/bin/cloudtask-agent}, the launcher operators
     * use, so it runs with the JVM options CloudTask ships and measures; on the JDK running this.
     */
    private static Process startAgent(Path jar, StandaloneSettings settings, String zookeeper) throws IOException {
        Path script = jar.toAbsolutePath().getParent().getParent().resolve("bin").resolve("cloudtask-agent");
        List<String> command = Files.isExecutable(script) ? List.of(script.toString())
                // A jar outside a checkout has no launcher next to it: plain java, default options.
                : List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar.toString());
        ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
        Map<String, String> environment = builder.environment();
        environment.put("JAVA_HOME", System.getProperty("java.home"));
        environment.put("CLOUDTASK_AGENT_JAR", jar.toAbsolutePath().toString());
        environment.put("CLOUDTASK_AGENT_CONTROL_PLANE", "127.0.0.1:" + settings.grpcPort());
        environment.put("CLOUDTASK_AGENT_ZOOKEEPER", zookeeper);
        environment.put("CLOUDTASK_AGENT_CLUSTER", "default");
        environment.put("CLOUDTASK_AGENT_WORK_DIR", settings.dataDir().resolve("agent").toAbsolutePath().toString());
        return builder.start();
    }

    /** The agent jar next to this jar in a source checkout: agent-java/target/cloudtask-agent.jar. */
    private static Path defaultAgentJar() {
        try {
            File self = new File(StandaloneMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path checkout = self.toPath().toAbsolutePath().getParent().getParent().getParent();
            return checkout.resolve("agent-java").resolve("target").resolve("cloudtask-agent.jar");
        } catch (URISyntaxException | NullPointerException e) {
            return Path.of("agent-java", "target", "cloudtask-agent.jar");
        }
    }

    private static void stopAgent(Process agent) {
        agent.destroy();
        try {
            if (!agent.waitFor(10, TimeUnit.SECONDS)) {
                agent.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            agent.destroyForcibly();
        }
    }
}
