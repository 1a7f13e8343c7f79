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

    public static void main(String[] args) throws InterruptedException {
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
