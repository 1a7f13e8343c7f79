package io.cloudtask.agent;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/** Agent configurations for component tests: short timeouts and backoffs. */
public final class TestAgents {
    private TestAgents() {}

    public static AgentConfig config(Path workDir, String zookeeper, String... overrides) {
        Properties file = new Properties();
        file.setProperty(AgentConfig.ID, "agent-1");
        file.setProperty(AgentConfig.WORK_DIR, workDir.toString());
        file.setProperty(AgentConfig.ZOOKEEPER, zookeeper);
        file.setProperty(AgentConfig.ZOOKEEPER_SESSION_TIMEOUT, "2s");
        file.setProperty(AgentConfig.ZOOKEEPER_CONNECTION_TIMEOUT, "1s");
        file.setProperty(AgentConfig.CONTROL_PLANE, "control-plane:9090");
        file.setProperty(AgentConfig.RECONNECT_INITIAL_BACKOFF, "20ms");
        file.setProperty(AgentConfig.RECONNECT_MAX_BACKOFF, "200ms");
        file.setProperty(AgentConfig.LABELS, "zone=a");
        file.setProperty(AgentConfig.CAPACITY, "3");
        for (int i = 0; i < overrides.length; i += 2) {
            file.setProperty(overrides[i], overrides[i + 1]);
        }
        return AgentConfig.resolve(file, Map.of(), 1);
    }
}
