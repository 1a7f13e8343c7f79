package io.cloudtask.agent;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.ContextInitializer;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Map;

/**
 * The agent's default logging, set up in code: INFO to stdout; ZooKeeper, Curator, gRPC and Netty
 * at WARN; ZooKeeper's {@code ClientCnxn} at ERROR.
 *
 * <p>Logback finds this class through {@code META-INF/services} before it would look for a
 * {@code logback.xml}. Reading an XML configuration loads logback's Joran and the JDK's XML parser,
 * about 600 classes that an idle agent would keep in memory for nothing (docs/BENCHMARKS.md,
 * "Agent memory and start-up"). With {@code -Dlogback.configurationFile=...} this class steps
 * aside and logback reads that file as usual.
 *
 * <p>Logback calls it once, on the thread that first asks for a logger.
 */
public final class AgentLogging extends ContextAwareBase implements Configurator {
    static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{36} - %msg%n";

    /**
     * Library loggers above INFO: their INFO lines describe every connection attempt, and the
     * agent logs what matters itself. ZooKeeper's {@code ClientCnxn} warns with a stack trace on
     * every reconnect attempt while ZooKeeper is down; the agent's {@code FencingPolicy} logs
     * each connection state change instead.
     */
    static final Map<String, Level> LEVELS = Map.of(
            "org.apache.zookeeper", Level.WARN,
            "org.apache.zookeeper.ClientCnxn", Level.ERROR,
            "org.apache.curator", Level.WARN,
            "io.grpc", Level.WARN,
            "io.netty", Level.WARN,
            "io.grpc.netty.shaded", Level.WARN);

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty(ContextInitializer.CONFIG_FILE_PROPERTY) != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(PATTERN);
        encoder.start();
        ConsoleAppender<ILoggingEvent> stdout = new ConsoleAppender<>();
        stdout.setContext(context);
        stdout.setName("STDOUT");
        stdout.setEncoder(encoder);
        stdout.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        root.addAppender(stdout);
        LEVELS.forEach((name, level) -> context.getLogger(name).setLevel(level));
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}
