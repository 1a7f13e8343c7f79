package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.protocol.ZkLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentIdentityTest {
    @TempDir
    Path workDir;

    @Test
    void theGeneratedIdIsStableAcrossTwoLoadsOfTheSameWorkDir() {
        Properties file = new Properties();
        file.setProperty(AgentConfig.WORK_DIR, workDir.toString());

        String first = AgentConfig.resolve(file, Map.of(), 1).agentId();
        String second = AgentConfig.resolve(file, Map.of(), 1).agentId();

        assertThat(second).isEqualTo(first);
        assertThat(workDir.resolve(AgentIdentity.FILE_NAME)).hasContent(first);
    }

    @Test
    void generatedIdsAreValidPathSegmentsWhateverTheHostName() {
        for (int i = 0; i < 20; i++) {
            for (String host : new String[] {"web-01.example.com", "_WEIRD host!", "", "-x", "a".repeat(200), "ünïcode"}) {
                String id = AgentIdentity.generate(host);
                assertThat(ZkLayout.isValidSegment(id)).as("%s from '%s'", id, host).isTrue();
            }
        }
        assertThat(AgentIdentity.generate("web-01.example.com")).startsWith("web-01.example.com-");
    }

    @Test
    void aCorruptIdFileIsReportedWithItsPath() throws Exception {
        Files.writeString(workDir.resolve(AgentIdentity.FILE_NAME), "not/valid");

        assertThatThrownBy(() -> AgentIdentity.loadOrCreate(workDir, "host"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(workDir.resolve(AgentIdentity.FILE_NAME).toString());
    }
}
