package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.proto.v1.AgentInfo;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How the publisher turns what an agent publishes in ZooKeeper into what the allocator weighs. */
class AgentStateFromAgentInfoTest {

    @Test
    void takesHostNameLabelsAndCapacityAndOffersOsAndArchAsLabels() {
        AgentInfo info = AgentInfo.newBuilder().setAgentId("ignored").setHostname("web-01").setOs("windows")
                .setArch("amd64").putLabels("zone", "a").setCapacity(4).build();
        AgentState agent = AllocationPublisher.agentState("agent-7", info);
        assertThat(agent).isEqualTo(new AgentState("agent-7", "web-01",
                Map.of("os", "windows", "arch", "amd64", "zone", "a"), 4, false, true));
        assertThat(TaskPlacement.labels("os=windows,zone=a").admits(agent)).isTrue();
    }

    @Test
    void labelsTheAgentSetsItselfWinOverItsReportedOs() {
        AgentInfo info = AgentInfo.newBuilder().setOs("linux").putLabels("os", "ubuntu").build();
        assertThat(AllocationPublisher.agentState("a", info).labels()).containsEntry("os", "ubuntu");
    }

    @Test
    void anUnsetCapacityCountsAsOne() {
        assertThat(AllocationPublisher.agentState("a", AgentInfo.getDefaultInstance()).capacity()).isEqualTo(1);
    }
}
