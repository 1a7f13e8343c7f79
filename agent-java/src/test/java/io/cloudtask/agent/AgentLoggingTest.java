package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.core.ConsoleAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class AgentLoggingTest {
    @Test
    void logsInfoToStdoutWithLibrariesQuieter() {
        LoggerContext context = new LoggerContext();

        ExecutionStatus status = new AgentLogging().configure(context);

        assertThat(status).isEqualTo(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        assertThat(root.getLevel()).isEqualTo(Level.INFO);
        ConsoleAppender<?> stdout = (ConsoleAppender<?>) root.getAppender("STDOUT");
        assertThat(stdout.isStarted()).isTrue();
        assertThat(stdout.getTarget()).isEqualTo("System.out");
        assertThat(((PatternLayoutEncoder) stdout.getEncoder()).getPattern()).isEqualTo(AgentLogging.PATTERN);
        assertThat(context.getLogger("io.cloudtask.agent.Agent").getEffectiveLevel()).isEqualTo(Level.INFO);
        assertThat(context.getLogger("org.apache.zookeeper.ZooKeeper").getEffectiveLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("org.apache.zookeeper.ClientCnxn").getEffectiveLevel()).isEqualTo(Level.ERROR);
        assertThat(context.getLogger("org.apache.curator.framework.imps.CuratorFrameworkImpl").getEffectiveLevel())
                .isEqualTo(Level.WARN);
        assertThat(context.getLogger("io.grpc.internal.ManagedChannelImpl").getEffectiveLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("io.grpc.netty.shaded.io.netty.channel.DefaultChannelPipeline").getEffectiveLevel())
                .isEqualTo(Level.WARN);
    }

    @Test
    void stepsAsideForAnOperatorsConfigurationFile() {
        String before = System.setProperty("logback.configurationFile", "/etc/cloudtask/logback.xml");
        try {
            assertThat(new AgentLogging().configure(new LoggerContext())).isEqualTo(ExecutionStatus.INVOKE_NEXT_IF_ANY);
        } finally {
            if (before == null) {
                System.clearProperty("logback.configurationFile");
            } else {
                System.setProperty("logback.configurationFile", before);
            }
        }
    }

    @Test
    void isWhatLogbackUsesInTheAgent() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

        assertThat(root.getAppender("STDOUT")).isInstanceOf(ConsoleAppender.class);
        assertThat(root.getLoggerContext().getLogger("org.apache.zookeeper.ClientCnxn").getLevel()).isEqualTo(Level.ERROR);
    }
}
