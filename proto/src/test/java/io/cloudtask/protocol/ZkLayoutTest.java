package io.cloudtask.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ZkLayoutTest {
    @Test
    void buildsThePathsOfTheArchitecturePage() {
        assertThat(ZkLayout.agent("default", "agent-1")).isEqualTo("/cloudtask/clusters/default/agents/agent-1");
        assertThat(ZkLayout.allocation("default", "agent-1"))
                .isEqualTo("/cloudtask/clusters/default/allocation/agent-1");
        assertThat(ZkLayout.lastSegment(ZkLayout.agent("c", "a.b"))).isEqualTo("a.b");
    }

    @Test
    void rejectsSegmentsThatWouldEscapeTheirParent() {
        assertThatThrownBy(() -> ZkLayout.agent("default", "../x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("agent id '../x'");
        assertThatThrownBy(() -> ZkLayout.agents("a/b")).hasMessageContaining("cluster 'a/b'");
        assertThat(ZkLayout.isValidSegment("")).isFalse();
    }

    @Test
    void roundTripsAnAssignment() {
        Assignment assignment = Assignment.newBuilder()
                .setEpoch(7)
                .setAgentId("a")
                .addTasks(AssignedTask.newBuilder().setTaskId("t").setSpecVersion(3))
                .build();
        assertThat(ZkLayout.decodeAssignment(ZkLayout.encode(assignment))).isEqualTo(assignment);
        assertThatThrownBy(() -> ZkLayout.decodeAssignment(new byte[] {(byte) 0xff}))
                .hasMessageContaining("not an Assignment payload");
    }

    @Test
    void derivesTheSameRunIdForTheSameFire() {
        Instant fire = Instant.parse("2026-01-01T00:00:00Z");
        assertThat(RunIds.runId("t", fire, 1)).isEqualTo(RunIds.runId("t", fire, 1));
        assertThat(RunIds.runId("t", fire, 1)).isNotEqualTo(RunIds.runId("t", fire, 2));
        assertThat(RunIds.runId("t", fire, 1)).isNotEqualTo(RunIds.runId("t", fire.plusMillis(1), 1));
    }

    @Test
    void commandRunIdsAreStableAndApartFromScheduledFires() {
        String command = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assertThat(RunIds.commandRunId("t", command, 1)).isEqualTo(RunIds.commandRunId("t", command, 1));
        assertThat(RunIds.commandRunId("t", command, 1)).isNotEqualTo(RunIds.commandRunId("t", command, 2));
        assertThat(RunIds.commandRunId("t", command, 1)).isNotEqualTo(RunIds.commandRunId("u", command, 1));
        // The documented derivation, so an agent in another language can reproduce it.
        assertThat(RunIds.commandRunId("t", command, 1)).isEqualTo(java.util.UUID.nameUUIDFromBytes(
                ("t/command/" + command + "/1").getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString());
    }
}
