package io.cloudtask.agent;

import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point: {@code java -jar cloudtask-agent.jar [--config agent.properties]}. Exit code 2 means
 * invalid configuration, 1 a failure to start.
 */
public final class AgentMain {
    private static final Logger log = LoggerFactory.getLogger(AgentMain.class);

    private AgentMain() {}

    /**
     * On Linux, starts processes with vfork + exec instead of the JDK's default posix_spawn of a
     * helper that then execs the program: one exec instead of two, which measured about twice the
     * process starts per second on a 2-core machine (docs/BENCHMARKS.md). The child runs nothing
     * but exec, as the JDK did by default until version 12. An operator's own
     * {@code -Djdk.lang.Process.launchMechanism=...} wins. Only up to JDK 21: JDK 25 deprecates the
     * mechanism and prints a warning on every start.
     */
    static void preferFastProcessLaunch() {
        if (System.getProperty(LAUNCH_MECHANISM) == null
                && System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("linux")
                && Runtime.version().feature() <= 21) {
            System.setProperty(LAUNCH_MECHANISM, "VFORK");
        }
    }

    /** The JVM's property choosing how it starts processes; read once, when the first one starts. */
    static final String LAUNCH_MECHANISM = "jdk.lang.Process.launchMechanism";

    /**
     * On one or two cores the JDK's common pool has a parallelism of 1, and CompletableFuture then
     * runs every async step on a new thread, among them the one that completes
     * {@code Process.onExit()}: a thread created per process exit, measured as most of the agent's
     * thread starts under load. Two common-pool workers reuse threads instead. An operator's own
     * setting wins; must run before anything uses the common pool.
     */
    static void avoidThreadPerAsyncStep() {
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null && Runtime.getRuntime().availableProcessors() <= 2) {
            System.setProperty(COMMON_POOL_PARALLELISM, "2");
        }
    }

    static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    /**
     * Unpooled Netty buffers for the gRPC channels. gRPC's pooled allocator keeps a 2 MiB direct
     * chunk for each arena in use (an idle agent had two, one per event-loop thread, both wholly
     * resident) plus per-thread caches: about 8 MiB of an idle agent's resident memory
     * (docs/BENCHMARKS.md), for one stream that carries a few MB/s at most. A 200 MiB run's output
     * cost the agent no more CPU unpooled than pooled. An operator's own {@code -D} value wins.
     */
    static void preferUnpooledNettyBuffers() {
        if (System.getProperty(NETTY_ALLOCATOR) == null) {
            System.setProperty(NETTY_ALLOCATOR, "unpooled");
        }
    }

    /**
     * gRPC's shaded Netty reads it when it creates its allocator, on the first channel; gRPC
     * honours {@code unpooled} there as well as Netty's own default allocator does.
     */
    static final String NETTY_ALLOCATOR = "io.grpc.netty.shaded.io.netty.allocator.type";

    public static void main(String[] args) throws InterruptedException {
        preferFastProcessLaunch();
        avoidThreadPerAsyncStep();
        preferUnpooledNettyBuffers();
        AgentConfig config;
        try {
            config = AgentConfig.load(args, System.getenv());
        } catch (ConfigException e) {
            log.error("invalid configuration: {}", e.getMessage());
            System.exit(2);
            return;
        }
        Agent agent = new Agent(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                agent.close();
            } finally {
                stopped.countDown();
            }
        }, "cloudtask-shutdown"));
        try {
            agent.start();
        } catch (RuntimeException e) {
            log.error("the agent could not start", e);
            System.exit(1);
            return;
        }
        log.info("CloudTask agent {} started: cluster {}, control plane {}, ZooKeeper {}",
                config.agentId(), config.cluster(), String.join(",", config.controlPlane()), config.zookeeper());
        // Every agent thread is a daemon; main waits here so the JVM lives until the shutdown hook ran.
        stopped.await();
    }
}
