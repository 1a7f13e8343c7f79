package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.protocol.ZkLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {
    @TempDir
    Path workDir;

    @Test
    void usesTheDocumentedDefaults() {
        AgentConfig config = AgentConfig.resolve(fileWith(), Map.of(), 2);

        assertThat(config.cluster()).isEqualTo("default");
        assertThat(config.controlPlane()).containsExactly("127.0.0.1:9090");
        assertThat(config.zookeeper()).isEqualTo("127.0.0.1:2181");
        assertThat(config.zookeeperSessionTimeout()).isEqualTo(Duration.ofSeconds(6));
        assertThat(config.zookeeperConnectionTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.workDir()).isEqualTo(workDir.toAbsolutePath().normalize());
        assertThat(config.joinToken()).isEmpty();
        assertThat(config.labels()).isEmpty();
        assertThat(config.capacity()).isEqualTo(8);
        assertThat(config.reconnectInitialBackoff()).isEqualTo(Duration.ofMillis(200));
        assertThat(config.reconnectMaxBackoff()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.spoolMaxBytes()).isEqualTo(1L << 30);
        assertThat(config.spoolDir()).isEqualTo(config.workDir().resolve("spool"));
        assertThat(ZkLayout.isValidSegment(config.agentId())).isTrue();
    }

    @Test
    void theWorkDirectoryDefaultsToCloudtaskAgentInTheCurrentDirectory() {
        Properties file = new Properties();
        file.setProperty(AgentConfig.ID, "fixed-id");

        AgentConfig config = AgentConfig.resolve(file, Map.of(), 1);

        assertThat(config.workDir()).isEqualTo(Path.of("cloudtask-agent").toAbsolutePath().normalize());
    }

    @Test
    void environmentVariablesOverrideTheFile() {
        Properties file = fileWith(
                AgentConfig.CLUSTER, "from-file",
                AgentConfig.ZOOKEEPER_SESSION_TIMEOUT, "9s",
                AgentConfig.LABELS, "zone=a",
                AgentConfig.CONTROL_PLANE, "file-cp:9090");
        Map<String, String> env = Map.of(
                "CLOUDTASK_AGENT_CLUSTER", "from-env",
                "CLOUDTASK_AGENT_ZOOKEEPER_SESSION_TIMEOUT", "500ms",
                "CLOUDTASK_AGENT_RECONNECT_MAX_BACKOFF", "2m",
                "CLOUDTASK_AGENT_ID", "agent-7",
                "CLOUDTASK_AGENT_CAPACITY", "3");

        AgentConfig config = AgentConfig.resolve(file, env, 4);

        assertThat(config.cluster()).isEqualTo("from-env");
        assertThat(config.zookeeperSessionTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(config.reconnectMaxBackoff()).isEqualTo(Duration.ofMinutes(2));
        assertThat(config.agentId()).isEqualTo("agent-7");
        assertThat(config.capacity()).isEqualTo(3);
        assertThat(config.labels()).containsExactly(Map.entry("zone", "a"));
        assertThat(config.controlPlane()).containsExactly("file-cp:9090");
    }

    @Test
    void parsesLabelsAndAddressLists() {
        AgentConfig config = AgentConfig.resolve(fileWith(
                AgentConfig.LABELS, "zone=a, tier=batch",
                AgentConfig.CONTROL_PLANE, "cp1:9090, cp2:9091,[::1]:9092"), Map.of(), 1);

        assertThat(config.labels()).containsExactly(Map.entry("zone", "a"), Map.entry("tier", "batch"));
        assertThat(config.controlPlane()).isEqualTo(List.of("cp1:9090", "cp2:9091", "[::1]:9092"));
    }

    @Test
    void aBadDurationNamesTheKeyAndTheExpectedForm() {
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.ZOOKEEPER_SESSION_TIMEOUT, "6 seconds"), Map.of(), 1))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cloudtask.agent.zookeeper.session-timeout")
                .hasMessageContaining("'6 seconds'")
                .hasMessageContaining("500ms, 6s, 2m");
    }

    @Test
    void aBadCapacityFromTheEnvironmentNamesTheKeyAndTheVariable() {
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(), Map.of("CLOUDTASK_AGENT_CAPACITY", "lots"), 1))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cloudtask.agent.capacity")
                .hasMessageContaining("CLOUDTASK_AGENT_CAPACITY")
                .hasMessageContaining("positive whole number");
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.CAPACITY, "0"), Map.of(), 1))
                .hasMessageContaining("cloudtask.agent.capacity");
    }

    @Test
    void otherBadValuesNameTheirKey() {
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.CONTROL_PLANE, "cp1"), Map.of(), 1))
                .hasMessageContaining(AgentConfig.CONTROL_PLANE).hasMessageContaining("host:port");
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.CLUSTER, "a/b"), Map.of(), 1))
                .hasMessageContaining(AgentConfig.CLUSTER);
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.LABELS, "zone"), Map.of(), 1))
                .hasMessageContaining(AgentConfig.LABELS);
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(
                AgentConfig.RECONNECT_INITIAL_BACKOFF, "5s", AgentConfig.RECONNECT_MAX_BACKOFF, "1s"), Map.of(), 1))
                .hasMessageContaining(AgentConfig.RECONNECT_MAX_BACKOFF);
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith("cloudtask.agent.zookeper", "x:1"), Map.of(), 1))
                .hasMessageContaining("unknown configuration key 'cloudtask.agent.zookeper'");
    }

    @Test
    void loadsTheFileNamedByTheConfigArgument() throws Exception {
        Path file = workDir.resolve("agent.properties");
        Files.writeString(file, "cloudtask.agent.id=from-file\ncloudtask.agent.work-dir=" + workDir + "\n");

        AgentConfig config = AgentConfig.load(new String[] {"--config", file.toString()}, Map.of());
        AgentConfig viaEnv = AgentConfig.load(new String[0], Map.of(AgentConfig.CONFIG_FILE_ENV, file.toString()));

        assertThat(config.agentId()).isEqualTo("from-file");
        assertThat(viaEnv.agentId()).isEqualTo("from-file");
        assertThatThrownBy(() -> AgentConfig.load(new String[] {"--config", workDir.resolve("nope").toString()}, Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cannot read the configuration file");
    }

    @Test
    void theSpoolBoundIsGivenInBytesOrBinaryUnitsAndTheEnvironmentWins() {
        assertThat(AgentConfig.resolve(fileWith(AgentConfig.SPOOL_MAX_BYTES, "2097152"), Map.of(), 1).spoolMaxBytes())
                .isEqualTo(2L << 20);
        assertThat(AgentConfig.resolve(fileWith(AgentConfig.SPOOL_MAX_BYTES, "512MiB"), Map.of(), 1).spoolMaxBytes())
                .isEqualTo(512L << 20);
        assertThat(AgentConfig.resolve(fileWith(AgentConfig.SPOOL_MAX_BYTES, "512MiB"),
                Map.of("CLOUDTASK_AGENT_SPOOL_MAX_BYTES", "4GiB"), 1).spoolMaxBytes()).isEqualTo(4L << 30);
    }

    @Test
    void aSpoolBoundBelowOneMebibyteOrWithoutAUnitItKnowsNamesTheKey() {
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.SPOOL_MAX_BYTES, "512KiB"), Map.of(), 1))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cloudtask.agent.spool.max-bytes")
                .hasMessageContaining("at least 1MiB");
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(), Map.of("CLOUDTASK_AGENT_SPOOL_MAX_BYTES", "1GB"), 1))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("CLOUDTASK_AGENT_SPOOL_MAX_BYTES")
                .hasMessageContaining("512MiB or 1GiB");
    }

    @Test
    void thePackageUnpackLimitDefaultsToFourGibibytesAndNamesItsKeyWhenBad() {
        AgentConfig defaults = AgentConfig.resolve(fileWith(), Map.of(), 1);
        assertThat(defaults.packageMaxUnpackedBytes()).isEqualTo(4L << 30);
        assertThat(defaults.packageDir()).isEqualTo(defaults.workDir().resolve("packages"));
        assertThat(AgentConfig.resolve(fileWith(), Map.of("CLOUDTASK_AGENT_PACKAGES_MAX_UNPACKED_SIZE", "512MiB"), 1)
                .packageMaxUnpackedBytes()).isEqualTo(512L << 20);
        assertThatThrownBy(() -> AgentConfig.resolve(fileWith(AgentConfig.PACKAGES_MAX_UNPACKED_SIZE, "lots"), Map.of(), 1))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cloudtask.agent.packages.max-unpacked-size");
    }

    @Test
    void theEnvironmentVariableNameIsTheKeyUpperCasedWithUnderscores() {
        assertThat(AgentConfig.envName("cloudtask.agent.reconnect.initial-backoff"))
                .isEqualTo("CLOUDTASK_AGENT_RECONNECT_INITIAL_BACKOFF");
    }

    @Test
    void theJoinTokenNeverAppearsInToString() {
        AgentConfig config = AgentConfig.resolve(fileWith(AgentConfig.JOIN_TOKEN, "s3cret"), Map.of(), 1);

        assertThat(config.joinToken()).isEqualTo("s3cret");
        assertThat(config.toString()).doesNotContain("s3cret");
    }

    private Properties fileWith(String... keyValues) {
        Properties file = new Properties();
        file.setProperty(AgentConfig.WORK_DIR, workDir.toString());
        for (int i = 0; i < keyValues.length; i += 2) {
            file.setProperty(keyValues[i], keyValues[i + 1]);
        }
        return file;
    }
}
